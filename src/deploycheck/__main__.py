from deploycheck.cli import main

raise SystemExit(main())
