from callhook.cli import main

main()
