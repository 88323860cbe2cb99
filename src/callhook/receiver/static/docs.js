// The /docs page: the routes of /openapi.json, listed (no inline script: see the CSP).
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const root = document.getElementById('paths'); root.textContent = '';
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const h = document.createElement('h2');
      const m = document.createElement('span');
      m.className = 'm'; m.textContent = method.toUpperCase(); h.appendChild(m);
      if (method === 'get' && !path.includes('{')) {
        const a = document.createElement('a');
        a.href = path; a.textContent = path; h.appendChild(a);
      } else {
        const c = document.createElement('code'); c.textContent = path; h.appendChild(c);
      }
      root.appendChild(h);
      const s = document.createElement('div');
      s.textContent = op.summary || ''; root.appendChild(s);
      const params = (op.parameters || []).map(p => p.name + ' (' + p.in + ')').join(', ');
      if (params) { const p = document.createElement('div'); p.className = 'p';
        p.textContent = 'Parameters: ' + params; root.appendChild(p); }
      const codes = Object.keys(op.responses || {}).join(', ');
      const r = document.createElement('div');
      r.className = 'p'; r.textContent = 'Responses: ' + codes;
      root.appendChild(r);
    }
  }
});
