import sys
from pathlib import Path

# Let the tests run from a plain checkout, without `pip install -e .`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
