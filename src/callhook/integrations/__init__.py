"""Adapters that let a voice pipeline drive a ``CallSession`` (optional extras).

- ``callhook.integrations.pipecat``: a Pipecat observer (``pip install 'callhook[pipecat]'``);
- ``callhook.integrations.livekit``: LiveKit Agents session events
  (``pip install 'callhook[livekit]'``).

Nothing else in callhook imports these modules, so ``import callhook`` works without either
framework.
"""
