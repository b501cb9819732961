import sys

from registry_client.cli import main

sys.exit(main())
