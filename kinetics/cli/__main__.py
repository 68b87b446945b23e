"""`python -m kinetics.cli ...` (what the GPU runner uses where the console script is not installed)."""
import sys

from kinetics.cli import main

sys.exit(main())
