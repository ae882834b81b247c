"""dfind-piq: piq's full-reference image-quality metrics as dfind metric stages.

The stages are declared in :mod:`dfind_piq.plugin` (no torch or piq import there) and
implemented in :mod:`dfind_piq.handcrafted` (no weights: FSIM, GMSD, MS-GMSD, HaarPSI,
VIFp, VSI, MDSI, SR-SIM, DSS, IW-SSIM) and :mod:`dfind_piq.learned` (DISTS, LPIPS-VGG,
PieAPP, content and style losses, with :mod:`dfind_piq.weights`), imported only when a stage
is used. :mod:`dfind_piq.base` holds dfind's conventions around every piq call and
:mod:`dfind_piq.gradients` how piq's code is differentiated.
"""

__version__ = "0.1.0"
