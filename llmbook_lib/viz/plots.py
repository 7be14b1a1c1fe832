"""Plots for the book: a CJK font helper, learning curves, and glue for numbers in the prose.

The attention explorer lives in ``explorer.py``; ``llmbook_lib.viz`` re-exports both.
"""

from __future__ import annotations

import glob
import math
import warnings

import matplotlib
from matplotlib import font_manager


CJK_FAMILIES = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC", "Heiti SC"]
CJK_FILES = ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/opentype/noto/NotoSansCJK*.ttc",
             "/usr/share/fonts/truetype/wqy/*.tt[cf]"]


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese: pick an installed CJK font and return its name.

    Without one (no ``fonts-noto-cjk``), Chinese labels would render as boxes: warn once with
    the install command and return None; English text still works.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    family = next((f for f in CJK_FAMILIES if f in installed), None)
    if family is None:   # a font installed after matplotlib built its cache
        for pattern in CJK_FILES:
            for path in sorted(glob.glob(pattern)):
                font_manager.fontManager.addfont(path)
        installed = {f.name for f in font_manager.fontManager.ttflist}
        family = next((f for f in CJK_FAMILIES if f in installed), None)
    if family is None:
        warnings.warn("no CJK font found, Chinese labels will show as boxes; install one, e.g. "
                      "`apt-get install fonts-noto-cjk` (also on Colab), then restart the kernel", stacklevel=2)
        return None
    matplotlib.rcParams["font.sans-serif"] = [family, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return family


def plot_history(history, ax=None, title: str | None = None, smooth: int = 20):
    """Training loss (raw and a moving average) and validation loss against the step."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    steps = np.asarray(history.steps) + 1
    loss = np.asarray(history.train_loss)
    ax.plot(steps, loss, color="tab:blue", alpha=0.25, lw=1, label="训练损失（每步）")
    if len(loss) >= smooth > 1:
        kernel = np.ones(smooth) / smooth
        ax.plot(steps[smooth - 1:], np.convolve(loss, kernel, mode="valid"), color="tab:blue", lw=2,
                label=f"训练损失（{smooth} 步滑动平均）")
    if history.val_steps:
        ax.plot(history.val_steps, history.val_loss, "o-", color="tab:orange", lw=2, label="验证损失")
    ax.set_xlabel("优化步数（step）")
    ax.set_ylabel("交叉熵损失（nats / token）")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def stable_format(value: float, spec: str, rel: float = 1e-9) -> str:
    """``format(value, spec)``, checked to print the same digits for ``value * (1 ± rel)``.

    A number that a notebook prints in a cell whose output is compared exactly on other machines
    (nbval-check-output) must not depend on the last bits of a float: another libm, BLAS or
    summation order can move them by about 1e-15 relative. Such a change shows only when the
    value sits on a rounding boundary of ``spec``; this checks that it does not, by a margin of
    ``rel``, and raises ValueError if it does (print one digit more or fewer).
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"stable_format: {value!r} is not a finite number")
    shown = format(value, spec)
    for nearby in (value * (1 - rel), value * (1 + rel)):
        if format(nearby, spec) != shown:
            raise ValueError(f"stable_format: {value!r} is within {rel:g} (relative) of a rounding "
                             f"boundary of {spec!r} ({shown} vs {format(nearby, spec)}); the printed "
                             f"digits could differ on another machine: show one digit more or fewer")
    return shown


def glue(name: str, value, display: bool = False) -> None:
    """Store ``value`` for the prose (myst-nb ``{glue}`` roles); a no-op where myst-nb is absent."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    _glue(name, value, display=display)
