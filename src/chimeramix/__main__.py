from chimeramix.cli import main

raise SystemExit(main())
