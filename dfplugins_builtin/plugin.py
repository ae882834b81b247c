"""dfind's built-in stages, registered through the ``dfind`` entry-point group like any plugin.

This module only declares records; each stage's code lives in the module its target names
and is imported when the stage is first built.
"""

from __future__ import annotations

from collections.abc import Iterator

from dfcore import Param, PresetSpec, StageSpec, hookimpl

_PKG = "dfplugins_builtin"
_REFERENCE = Param("reference", "a", "the image held fixed; the map is the gradient with respect to the other",
                   choices=("a", "b"))
_REDUCE = Param("reduce", "mean", "how channels are combined into one map", choices=("mean", "max", "sum", "l2"))


@hookimpl
def dfind_preprocessors() -> Iterator[StageSpec]:
    yield StageSpec("identity", f"{_PKG}.preprocessors.basic:Identity", "Pass images through unchanged.")
    yield StageSpec(
        "normalize", f"{_PKG}.preprocessors.basic:Normalize",
        "Stretch each image to the full [0, 1] range (min-max).",
        params=(Param("per_channel", False, "stretch each channel on its own"),),
    )
    fft_params = (
        Param("cutoff", 0.25, "cut-off frequency as a fraction of Nyquist, in (0, 1]"),
        Param("profile", "gaussian", "mask shape: smooth Gaussian or ideal (hard, rings)", choices=("gaussian", "ideal")),
        Param("pad", "reflect", "padding before the FFT, so borders do not wrap around", choices=("reflect", "none")),
    )
    yield StageSpec("lowpass", f"{_PKG}.preprocessors.fft:LowPass",
                    "Keep frequencies below `cutoff` (FFT mask).", params=fft_params)
    yield StageSpec("highpass", f"{_PKG}.preprocessors.fft:HighPass",
                    "Keep frequencies above `cutoff` (FFT mask), offset to mid-grey.",
                    params=(*fft_params, Param("offset", 0.5, "added after filtering to keep values near [0, 1]")))


@hookimpl
def dfind_metrics() -> Iterator[StageSpec]:
    yield StageSpec("mse", f"{_PKG}.metrics.pixel:MSE", "Mean squared error.", higher_is_better=False)
    yield StageSpec("psnr", f"{_PKG}.metrics.pixel:PSNR", "Peak signal-to-noise ratio in dB.",
                    params=(Param("data_range", 1.0, "peak value of the images"),), higher_is_better=True)
    window = (
        Param("data_range", 1.0, "value range of the images (pytorch_msssim defaults to 255: not here)"),
        Param("win_size", 11, "Gaussian window size, odd"),
        Param("win_sigma", 1.5, "Gaussian window sigma"),
        Param("k1", 0.01, "luminance stabiliser K1: C1 = (K1 * data_range)^2"),
        Param("k2", 0.03, "contrast stabiliser K2: C2 = (K2 * data_range)^2"),
    )
    yield StageSpec("ssim", f"{_PKG}.metrics.ssim:SSIM", "Structural similarity (Wang et al. 2004).",
                    params=window, higher_is_better=True)
    yield StageSpec("ms-ssim", f"{_PKG}.metrics.ssim:MSSSIM",
                    "Multi-scale SSIM (pytorch_msssim); images of 161 px or more.",
                    params=window, higher_is_better=True)
    yield StageSpec(
        "lpips", f"{_PKG}.metrics.lpips:LPIPS", "Learned perceptual distance (Zhang et al. 2018).",
        params=(
            Param("net", "alex", "backbone", choices=("alex", "vgg", "squeeze")),
            Param("weights", None, "local backbone weights file (torchvision state dict); default: torchvision's cache"),
            Param("download", True, "download missing backbone weights into torchvision's cache"),
        ),
        higher_is_better=False,
        layers=("relu1", "relu2", "relu3", "relu4", "relu5"),
    )


@hookimpl
def dfind_strategies() -> Iterator[StageSpec]:
    yield StageSpec(
        "difference", f"{_PKG}.strategies.difference:Difference",
        "Absolute difference |a - b| of the preprocessed images; with its options, the default map.",
        params=(_REDUCE,
                Param("shift", 0, "tolerated misalignment in px: each pixel takes its best match within it, both "
                                  "ways; auto: measured, none when the pair is aligned", words=("auto",)),
                Param("sigma", 0.0, "Gaussian pre-smoothing of both images in px (noise, JPEG, resampling)"),
                Param("scale", 0.0, "the map's scale in px: mean of its Gaussian smoothings at scale, 2 scale... "
                                    "(0: none)"),
                Param("octaves", 1, "scales averaged with `scale`"),
                Param("background", 0.0, "divide the map by the root of its local level over this many px, plus its "
                                         "mean: changes stand out against busy surroundings (0: off)"),
                Param("exact", "off", "rank every pixel that differs at all above identical ones: on, off, or auto "
                                      "(when 90% of the pixels that differ from a neighbour are identical: "
                                      "lossless pairs)",
                      choices=("off", "auto", "on")),
                Param("lossless", "share", "the lossless test of exact=auto: share (90% of the detail pixels "
                                           "identical) or clustered (also from 75% when the changed pixels lie in a "
                                           "few compact areas)", choices=("share", "clustered")),
                Param("lossless_reach", 2, "with lossless=clustered: the changed pixels are grown by this many px "
                                           "before their connected areas are counted (the glyphs of a changed line "
                                           "or table column joined)"),
                Param("antialias", 0, "rasterisation tolerance in px: a value within the range of the other image's "
                                      "values this close matches (anti-aliasing, hinting, resampling; 0: off); auto: "
                                      "1 px on misaligned, resampled or re-rendered pairs", words=("auto",)),
                Param("overshoot", 0.0, "with antialias: the range widened by this fraction of its width "
                                        "(resampling filters overshoot edges)"),
                Param("rendered_overshoot", None, "the overshoot on a re-rendered pair (half its pixels identical, "
                                                  "not lossless: pages, plots drawn again); default: overshoot's"),
                Param("rendered_window", 0, "on a re-rendered pair, match windows of this many px (odd) under one "
                                            "displacement within the range's radius, not each pixel within the "
                                            "range: a changed glyph stands out from re-drawn text (0: off)"),
                Param("window_slack", 0.0, "with rendered_window: each pixel's difference less this fraction of the "
                                           "wider of the two images' ranges within 1 px (anti-aliasing)"),
                Param("window_step", 1.0, "with rendered_window: the windows' displacements in steps of 1, 0.5 or "
                                           "0.25 px, each image moved by bilinear interpolation below a pixel "
                                           "(glyphs drawn again sit a fraction of a pixel off)"),
                Param("window_fade", False, "with rendered_window: the windows' difference counts beyond the range's "
                                            "only as far as rendered_contrast's blurred difference confirms it"),
                Param("window_glyphs", 0.0, "with rendered_window: the windows' difference counts beyond the range's "
                                            "only on marks (strokes of A or B, joined) no taller than this fraction "
                                            "of the diagonal: text and digits, not a plot's lines (0: everywhere)"),
                Param("rendered_contrast", 0.0, "on a re-rendered pair, the map fades where the images differ by less "
                                                "than this once blurred by 2 px (re-drawn text and strokes); 0: off"),
                Param("rendered_motion", 0.0, "with rendered_contrast: the blurred difference that moving edges by this "
                                              "many px explains is not counted"),
                Param("rendered_fade", "map", "with rendered_contrast: map fades the map; regions leaves it whole and "
                                              "reports only the differences the faded map holds too",
                      choices=("map", "regions")),
                Param("register", "off", "auto: measure an affine misalignment tile by tile and resample B onto A when "
                                         "it is more than a translation (scans, photographed pages)",
                      choices=("off", "auto")),
                Param("register_structure", 0.0, "with register=auto: a tile whose structure runs one way only (the "
                                                 "smaller eigenvalue of its structure tensor below this share of the "
                                                 "larger: a straight line or edge) is left out of the fit; 0: kept"),
                Param("register_border", False, "with register=auto: pixels whose counterpart lies in a blank band "
                                                "along B's edge (a scanner's margin: flat rows or columns of one "
                                                "colour set off from the page) are not compared"),
                Param("register_tones", 1, "with register=auto: the tone fit of the resampled B reads the means of "
                                           "blocks this many px wide (odd), not single pixels: the scan's noise and "
                                           "blur flatten the gain of a channel with little contrast"),
                Param("edge_margin", 0, "pixels this close to the image's edge are not compared; auto: the shift's "
                                        "radius on a pair whose frame moved by half a pixel or more (what lies outside "
                                        "the other image's frame)",
                      words=("auto",))),
    )
    yield StageSpec(
        "gradient", f"{_PKG}.strategies.gradient:Gradient",
        "Gradient of the metric with respect to one image: the pixels that drive the score.",
        params=(_REFERENCE, Param("signed", False, "keep the sign (positive: raising the pixel adds difference)"),
                _REDUCE),
    )
    yield StageSpec(
        "own", f"{_PKG}.strategies.own:Own",
        "The metric's own map: its own_map, else its local map (1 - SSIM...), else the gradient. "
        "Chosen when a metric is named without a strategy.",
    )
    yield StageSpec(
        "tolerant", f"{_PKG}.strategies.tolerant:Tolerant",
        "The metric's local map, each pixel taking its best match within a radius: forgives misregistration.",
        params=(Param("radius", 1, "tolerated misalignment in px, both ways (a change moved by less can hide)"),),
    )


@hookimpl
def dfind_postprocessors() -> Iterator[StageSpec]:
    yield StageSpec("identity", f"{_PKG}.postprocessors.basic:Identity", "Return the map unchanged.")
    yield StageSpec("smooth", f"{_PKG}.postprocessors.smooth:Smooth",
                    "Gaussian smoothing of the map: its scale (speckle averaged, blobs filled).",
                    params=(Param("sigma", 2.0, "standard deviation in px; 0 leaves the map unchanged"),
                            Param("octaves", 1, "scales averaged: sigma, 2 sigma, 4 sigma... (multi-scale)")))
    yield StageSpec(
        "regions", f"{_PKG}.postprocessors.regions:Regions",
        "The differences the map holds, counted by the map itself and ranked; the map unchanged.",
        params=(Param("level", 6.0, "a difference peaks at least this many robust standard deviations above the "
                                    "map's background"),
                Param("low", 3.0, "and spreads over the connected pixels at least this many above it"),
                Param("merge", 0.01, "parts closer than this fraction of the image diagonal are one difference"),
                Param("min_size", 2e-5, "differences covering less of the image than this fraction are dropped"),
                Param("extent", 0.0, "a difference covers only the pixels above this fraction of its own peak "
                                     "(0: all connected pixels above low)"),
                Param("absorb", 0.0, "weaker bumps joined to a difference above this fraction of its peak are part of "
                                     "it (at most extent)"),
                Param("absorb_peaks", True, "absorb also takes another peak that reaches extent of a difference's "
                                            "peak but joins it only lower down (false: that peak starts a difference "
                                            "of its own where relative allows; round thirty-three, "
                                            "docs/quality.md)"),
                Param("absorb_within", 0.0, "with absorb_peaks, another peak is taken only when it lies within this "
                                            "fraction of the diagonal of the difference; one farther off starts its "
                                            "own (0: wherever it lies; round thirty-seven, docs/quality.md)"),
                Param("absorb_within_on", "all", "where absorb_within applies: every pair, only a pair not drawn "
                                                 "again (drawings, photographs; no support handed over), or confirmed: "
                                                 "on a pair drawn again too, for a peak the faded map holds as a "
                                                 "difference", choices=("all", "not-rendered", "confirmed")),
                Param("relative", 0.0, "differences weaker than this fraction of the strongest one are not reported"),
                Param("rendered_relative", None, "relative on a pair drawn again (whose strategy hands over a "
                                                  "support): pages and plots rendered again; default: relative's"),
                Param("nonzero", False, "every pixel where the map is not zero is part of a difference, whatever the "
                                        "background (exact maps: any change counts)"),
                Param("judge", "difference", "where the strategy hands over a support: judge each difference once "
                                             "merged, or each peak as it is grown (none takes with it a difference "
                                             "that map x support holds apart)", choices=("difference", "peak")),
                Param("moves", False, "a thing that left one place and appeared at another is one difference "
                                      "(reported with where from, where to and the shift), not two"),
                Param("move_match", 0.35, "how closely the pair's pixels must have swapped between the two places, "
                                          "as a fraction of the places' own differences"),
                Param("move_tolerance", 0, "with moves: the thing and what it covered match within the range of the "
                                           "other image's values this many px around (0: value for value); pairs "
                                           "different words of like size too (round twenty-three, docs/quality.md)"),
                Param("rendered_move_tolerance", None, "move_tolerance on a pair drawn again (whose strategy hands "
                                                       "over a support), whose moved thing is drawn again a fraction "
                                                       "of a pixel off; default: move_tolerance's"),
                Param("move_plain", 0.0, "with a move tolerance: the thing must also match value for value within "
                                         "this fraction of its place's difference at some shift (two different "
                                         "words of like size match within a range, not value for value; 0: off)"),
                Param("recolours", False, "differences over which one colour of A became one colour of B, neither "
                                          "the background, are one difference: a series drawn in another colour, "
                                          "along its line and at its legend (round thirty-eight, docs/quality.md)"),
                Param("push_merge", 0.0, "differences one above the other (or side by side), aligned and closer "
                                         "than this fraction of the diagonal, are one difference when B is A "
                                         "moved along them by one shift over both: a stacked bar grown lifts the "
                                         "segments above it (0: off; docs/quality.md)"),
                Param("drift", 0.0, "on a pair drawn again, a difference that moving B by at most 2 px leaves at "
                                    "most this share of, while the pair differs around it, is layout drift and not "
                                    "reported; a thing that moved is kept (0: off; docs/quality.md)"),
                Param("frame", 0.0, "differences inside a band this fraction of the diagonal wide along an edge, "
                                    "spanning at least 0.4 of it, are the frame and not reported (0: none)"),
                Param("frame_span", 0.4, "with frame, a difference along an edge is the frame when it spans at "
                                         "least this fraction of the edge (round thirty-nine, docs/quality.md)"),
                Param("line_merge", 0.0, "differences on one line (rows overlapping by half the lower one's height, "
                                         "heights alike) closer than this fraction of the diagonal along it are one "
                                         "difference: the words of a changed line of text (0: none; without "
                                         "line_height it joins changes side by side on photographs too: rounds "
                                         "twenty-four to twenty-six, docs/quality.md)"),
                Param("lines", "all", "where line_merge joins: every pair, or only a pair drawn again (a page or "
                                      "plot rendered again, whose strategy hands over a support)",
                      choices=("all", "rendered")),
                Param("line_height", 0.0, "line_merge joins only parts no taller than this fraction of the "
                                          "diagonal: a line of text (0: any height)"),
                Param("exact_background", False, "on a map equal to its background over more than half its pixels, "
                                                 "of a pair not drawn again (lossless: every value above it is a "
                                                 "change), any value above the background is significant and "
                                                 "relative, extent and min_size decide; else a large change's own "
                                                 "values raise the bar for the small ones"),
                Param("exact_merge", 0.0, "with exact_background, on such a map parts closer than this fraction of the "
                                          "diagonal are one difference, instead of merge (0: merge)"),
                Param("exact_moves", 0, "with exact_merge, two parts it parts that merge would join are one "
                                        "difference when B is A moved by at most this many px over both, within "
                                        "move_match both ways: an element moved by less than its width (0: never; "
                                        "at most 16; round thirty-six, docs/quality.md)"),
                Param("exact_peaks", False, "with exact_background, on such a map absorb_peaks is off: another peak "
                                            "that reaches extent of a difference's peak starts its own"),
                Param("zero_below", 0.0, "values of |map| at most this fraction of its largest are zero: a float32 "
                                         "FFT's rounding (1e-12 to 1e-6 of the peak) is background, not signal"),
                Param("typical", 0.0, "on a map holding typical_count candidate differences or more (areas standing "
                                      "level above the background, parts closer than merge joined), a difference's "
                                      "peak is at least this many times the median candidate's: where nothing "
                                      "changed, a degradation's residue is many candidates, none far above the "
                                      "others; so are many real changes of like height, which it drops as well "
                                      "(0: off; not on an exact background; round fifty-three, docs/quality.md)"),
                Param("typical_count", 20, "typical applies from this many candidate differences")),
    )


#: The map of the default pipeline, chosen on the quality benchmark (docs/quality.md; the
#: overshoot on re-rendered pairs in round six, the lossless test's changed glyphs joined within
#: 6 px in round forty-five, the registration's one-way tiles left out of its fit in round
#: forty-nine, a scanner's blank band left out in round fifty-one, the tone fit on 7 px means in
#: round fifty-two). Preset stages are qualified,
#: so a plugin offering another ``mse`` or ``difference`` cannot make ``dfind A B`` ambiguous.
_ROBUST_MAP = ("sigma=1.0,reduce=l2,scale=1.0,octaves=4,background=64,exact=auto,lossless=clustered,lossless_reach=3,"
               "antialias=1,overshoot=0.15,rendered_overshoot=0.3,register=auto,register_structure=0.05,"
               "register_border=true,register_tones=7")
#: The default's frame: on a pair whose frame moved by half a pixel or more, the edge that shows
#: what lies outside the other image is not compared (round ten, docs/quality.md). Not part of
#: the map the ``robust`` preset shares, whose fixed shift would take every pair as moved.
_FRAME = "edge_margin=auto"
#: Re-rendering's fading: on a re-rendered pair, the difference that a 1.5-px move of the blurred
#: edges explains is discounted and what is left faded below 0.04 (round eight, docs/quality.md).
_RENDERED = "rendered_contrast=0.04,rendered_motion=1.5"
#: The default and ``robust`` let that fading judge the differences and keep the map whole (round
#: eleven); ``redrawn`` fades the map itself.
_JUDGED = f"{_RENDERED},rendered_fade=regions"
#: On a re-rendered pair, glyph-sized marks matched window by window (a changed digit lies within a
#: pixel of the old strokes, which the range forgives): round twenty-eight; matched in half-pixel
#: steps with less slack since round forty-two (glyphs drawn again sit a fraction of a pixel off),
#: docs/quality.md.
_GLYPHS = "rendered_window=3,window_slack=0.7,window_glyphs=0.02,window_step=0.5"
#: The differences found in that map: counted, located and ranked; the rule chosen with the map
#: in round four, a thing that moved counted once since round twenty, a scanned page's frame left
#: out since round twenty-two, the parts of one line of text joined since round twenty-six, a
#: lossless pair's flat background taken as exact since round twenty-nine, the FFT's rounding
#: taken as zero since round thirty-one, another change on that background no longer taken in as a
#: flank since round thirty-four, parts there joined only within 1.5% of the diagonal unless one
#: move of at most 8 px explains both since round thirty-six, the pieces of one recolouring one
#: difference since round thirty-eight, a frame along a fifth of its edge since round thirty-nine,
#: what a page laid out again leaves a pixel or two off not reported since round forty-one, and
#: on a pair not drawn again another peak farther than 6% of the diagonal from a difference left
#: to start its own since round forty-four, and the strips one push leaves (a stacked bar grown lifts
#: the segments above it) one difference since round fifty (docs/quality.md; round fifty-three's
#: ``typical`` floor was not adopted: a large pair with forty changes lost them all).
_DIFFERENCES = ("builtin.regions:level=10,extent=0.1,absorb=0.03,merge=0.03,relative=0.15,moves=true,move_match=0.5,"
                "frame=0.05,frame_span=0.2,line_merge=0.06,line_height=0.02,exact_background=true,zero_below=1e-6,exact_peaks=true,"
                "exact_merge=0.015,exact_moves=8,recolours=true,drift=0.45,absorb_within=0.06,"
                "absorb_within_on=not-rendered,push_merge=0.15")
#: The ``strict`` preset's differences: every cluster of changed pixels (parts within 1% of the
#: diagonal joined), down to a single pixel.
_EXACT_DIFFERENCES = "builtin.regions:nonzero=true,min_size=0"


@hookimpl
def dfind_presets() -> Iterator[PresetSpec]:
    yield PresetSpec(
        "default",
        "Robust map chosen on the quality benchmark: difference tolerant of anti-aliasing and resampling, "
        "shift-tolerant when the pair is misaligned, registered when it is turned or scaled, over 4 scales, against "
        "its background; exact on lossless pairs; glyphs drawn again matched window by window; the frame's edge left "
        "out when the frame moved; then the "
        "differences it holds, counted and ranked, those a re-rendering explains and a scanned page's frame left out, "
        "a thing that moved counted once; score: MSE.",
        {"metric": "builtin.mse",
         "strategy": f"builtin.difference:shift=auto,{_ROBUST_MAP},{_FRAME},{_JUDGED},{_GLYPHS}",
         "postprocessor": _DIFFERENCES},
    )
    yield PresetSpec(
        "robust",
        "The default always tolerating misalignment up to 2 px (scans, screenshots re-rendered at another zoom).",
        {"metric": "builtin.mse", "strategy": f"builtin.difference:shift=2,{_ROBUST_MAP},{_JUDGED},{_GLYPHS}",
         "postprocessor": _DIFFERENCES},
    )
    yield PresetSpec(
        "redrawn",
        "The default with what re-rendering leaves faded in the map itself, not only left out of the differences "
        "(round eight's candidate, docs/quality.md): for screenshots and plots drawn again with other hinting, device "
        "scale or backend; a change that a 1.5-px move of the edges nearly explains can rank lower in the map.",
        {"metric": "builtin.mse",
         "strategy": f"builtin.difference:shift=auto,{_ROBUST_MAP},{_FRAME},{_RENDERED},{_GLYPHS}",
         "postprocessor": _DIFFERENCES},
    )
    yield PresetSpec(
        "strict",
        "Exact differences for CI: every pixel that differs counts (largest channel difference, no tolerance of "
        "anti-aliasing or misalignment), each cluster of changed pixels a difference; score: MSE "
        "(`--fail-above 0` fails on any change).",
        {"metric": "builtin.mse", "strategy": "builtin.difference:reduce=max", "postprocessor": _EXACT_DIFFERENCES},
    )
    yield PresetSpec(
        "metric",
        "What a metric named without a strategy or a preset gets: the metric's own map (strategy own: SSIM's "
        "1 - SSIM map, MSE's and PSNR's squared error..., else its gradient), no postprocessor.",
        {"strategy": "builtin.own"},
    )
    yield PresetSpec(
        "sharp", "Honest gradient of SSIM at data_range=1, unsmoothed: sharpest on lossless pairs, fragile on others.",
        {"metric": "builtin.ssim", "strategy": "builtin.gradient"},
    )
