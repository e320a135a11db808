"""broadcaster: village loudspeaker announcements in Mandarin and Cantonese."""

import os

__version__ = "0.1.0"

# numpy's matrix products here are small; BLAS threads would only spin on the cores the
# speech engines and the sound cards need. Set before numpy is first imported; a value
# set by the user wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
