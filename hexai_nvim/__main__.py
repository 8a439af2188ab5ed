import sys

from hexai_nvim.cli import main

sys.exit(main())
