from broadcaster.cli.main import main

raise SystemExit(main())
