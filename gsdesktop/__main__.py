from gsdesktop.cli.main import main

raise SystemExit(main())
