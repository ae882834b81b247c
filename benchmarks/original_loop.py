"""The research script dfind grew from, as the baseline of folder throughput (``benchmarks/folder.py``).

``python benchmarks/original_loop.py DIR_A DIR_B OUT``: the files of each folder globbed and
sorted, paired by position; per pair, decoded with PIL and torchvision's ``ToTensor``, given
a batch dimension, the autograd gradient of ``pytorch_msssim.ssim(a, b)`` (its default
``data_range``) with respect to ``b`` moved to numpy and averaged over channels; every map
kept in a list, then saved as ``OUT/NAME.npy``. Kept as it was on purpose: it is what dfind is
measured against, not an example to follow.
"""

import glob
import os
import sys

import numpy as np
import torch
from PIL import Image
from pytorch_msssim import ssim
from torchvision.transforms import ToTensor


def main(dir_a: str, dir_b: str, out: str) -> None:
    files_a = sorted(glob.glob(os.path.join(dir_a, "*")))
    files_b = sorted(glob.glob(os.path.join(dir_b, "*")))
    to_tensor = ToTensor()
    maps = []
    for file_a, file_b in zip(files_a, files_b):
        a = to_tensor(Image.open(file_a)).unsqueeze(0)
        b = to_tensor(Image.open(file_b)).unsqueeze(0).requires_grad_(True)
        value = ssim(a, b)
        (grad,) = torch.autograd.grad(value, b)
        maps.append(grad.numpy()[0].mean(0))
    os.makedirs(out, exist_ok=True)
    for file_b, grad_map in zip(files_b, maps):
        np.save(os.path.join(out, os.path.splitext(os.path.basename(file_b))[0] + ".npy"), grad_map)


if __name__ == "__main__":
    main(*sys.argv[1:4])
