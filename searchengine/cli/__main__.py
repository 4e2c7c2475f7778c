"""`python -m searchengine.cli.main`."""

import sys

from searchengine.cli.main import main

sys.exit(main())
