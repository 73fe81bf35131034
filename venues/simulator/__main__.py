import sys

from venues.simulator.cli import main

sys.exit(main())
