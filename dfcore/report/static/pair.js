/* dfind report, pair page: synchronized zoom and pan, A/B flicker, swipe and onion skin, overlay, regions. */
(() => {
  const data = JSON.parse(document.getElementById("dfind-data").textContent);
  const W = data.width, H = data.height;
  const $ = (selector, element) => (element || document).querySelector(selector);
  const $$ = (selector, element) => Array.from((element || document).querySelectorAll(selector));
  const clamp = (value, low, high) => Math.min(Math.max(value, low), high);
  const MAX_SCALE = 64;   /* screen pixels per image pixel, at most */

  /* embedded pictures (notebooks, to_html): decoded once into a blob URL shared by every view */
  const blobs = {};
  function blobUrl(uri) {
    const comma = uri.indexOf(",");
    const mime = uri.slice(5, comma).split(";")[0];
    const text = atob(uri.slice(comma + 1));
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return URL.createObjectURL(new Blob([bytes], { type: mime }));
  }
  for (const img of $$("img[data-image]")) {
    const uri = (data.images || {})[img.dataset.image];
    if (!uri) continue;
    blobs[img.dataset.image] = blobs[img.dataset.image] || blobUrl(uri);
    img.src = blobs[img.dataset.image];
  }

  /* -- one view state for every viewport ------------------------------------------------- */
  const view = { zoom: 1, cx: W / 2, cy: H / 2 };
  const panels = $$(".panel").filter((panel) => $(".viewport", panel));
  const viewports = $$(".viewport").map((vp) => ({
    vp, layer: $(".layer", vp), panel: vp.closest(".panel"), line: $(".swipe-line", vp),
  }));
  const compare = $('.panel[data-panel="compare"]');
  let swipeAt = 0.5;   /* the swipe split, as a fraction of the compare viewport's width */

  /* every view of the grid fits the smallest viewport, so all share one scale, pixel for pixel */
  const ownFit = (vp) => Math.min(vp.clientWidth / W, vp.clientHeight / H) || 1;
  function fitOf(vp) {
    if (vp.closest(".maximized")) return ownFit(vp);
    const fits = viewports.filter((v) => v.vp.clientWidth > 0 && !v.panel.classList.contains("maximized"))
      .map((v) => ownFit(v.vp));
    return fits.length ? Math.min(...fits) : ownFit(vp);
  }
  const shown = () => viewports.find((v) => v.panel.classList.contains("maximized"))
    || viewports.find((v) => v.vp.clientWidth > 0) || viewports[0];

  function geometry(vp) {
    const s = fitOf(vp) * view.zoom;
    return { s, tx: vp.clientWidth / 2 - view.cx * s, ty: vp.clientHeight / 2 - view.cy * s };
  }

  function clampView() {
    const fit = fitOf(shown().vp);
    view.zoom = clamp(view.zoom, 0.25, Math.max(1, MAX_SCALE / fit));
    view.cx = clamp(view.cx, 0, W);
    view.cy = clamp(view.cy, 0, H);
  }

  /* The layer is sized, never scaled: a transform's scale would let the compositor smooth the
     pictures. Its size and offset are whole device pixels, and from 1:1 up the browser draws each
     image pixel as a block of one colour (image-rendering: pixelated). */
  const snap = (value) => { const dpr = window.devicePixelRatio || 1; return Math.round(value * dpr) / dpr; };
  function render() {
    clampView();
    for (const v of viewports) {
      if (!v.vp.clientWidth || !v.vp.clientHeight) continue;
      const g = geometry(v.vp);
      v.layer.style.width = `${snap(W * g.s)}px`;
      v.layer.style.height = `${snap(H * g.s)}px`;
      v.layer.style.transform = `translate(${snap(g.tx)}px, ${snap(g.ty)}px)`;
      v.layer.dataset.scale = String(g.s);
      v.layer.style.setProperty("--px", String(1 / g.s));
      v.vp.classList.toggle("pixelated", g.s >= 1 - 1e-9);
      if (v.panel === compare) {
        const splitX = (swipeAt * v.vp.clientWidth - g.tx) / g.s;
        const cut = clamp((splitX / W) * 100, 0, 100);
        $(".img-b", v.layer).style.clipPath = compare.dataset.mode === "swipe" ? `inset(0 0 0 ${cut}%)` : "";
        if (v.line) v.line.style.left = `${swipeAt * 100}%`;
      }
    }
    const s = geometry(shown().vp).s;
    $("#zoom-level").value = s >= 10 ? `${Math.round(s)}×` : `${Math.round(s * 100)}%`;
  }

  function zoomAt(vp, clientX, clientY, factor) {
    const box = vp.getBoundingClientRect();
    const px = clientX - box.left, py = clientY - box.top;
    const g = geometry(vp);
    const ix = (px - g.tx) / g.s, iy = (py - g.ty) / g.s;
    view.zoom *= factor;
    clampView();
    const s = fitOf(vp) * view.zoom;
    view.cx = ix - (px - vp.clientWidth / 2) / s;
    view.cy = iy - (py - vp.clientHeight / 2) / s;
    render();
  }
  const zoomCentre = (factor) => {
    const vp = shown().vp, box = vp.getBoundingClientRect();
    zoomAt(vp, box.left + vp.clientWidth / 2, box.top + vp.clientHeight / 2, factor);
  };
  const fit = () => { view.zoom = 1; view.cx = W / 2; view.cy = H / 2; render(); };
  const actualPixels = () => { view.zoom = 1 / fitOf(shown().vp); render(); };
  const pan = (dx, dy) => {
    const s = geometry(shown().vp).s;
    view.cx += dx / s; view.cy += dy / s; render();
  };

  const cursor = $("#cursor");
  let drag = null;
  for (const { vp, panel } of viewports) {
    vp.addEventListener("wheel", (event) => {
      event.preventDefault();
      const step = event.deltaMode === 1 ? 0.05 : event.deltaMode === 2 ? 1 : 0.002;
      zoomAt(vp, event.clientX, event.clientY, Math.exp(-event.deltaY * step));
    }, { passive: false });
    vp.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { id: event.pointerId, x: event.clientX, y: event.clientY, moved: 0 };
      vp.setPointerCapture(event.pointerId);
      vp.classList.add("dragging");
    });
    vp.addEventListener("pointermove", (event) => {
      const g = geometry(vp), box = vp.getBoundingClientRect();
      const ix = (event.clientX - box.left - g.tx) / g.s, iy = (event.clientY - box.top - g.ty) / g.s;
      cursor.textContent = ix >= 0 && iy >= 0 && ix < W && iy < H
        ? `x ${Math.floor(ix)}  y ${Math.floor(iy)}` : "x –  y –";
      if (drag && drag.id === event.pointerId) {
        const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
        drag.moved += Math.abs(dx) + Math.abs(dy);
        drag.x = event.clientX; drag.y = event.clientY;
        view.cx -= dx / g.s; view.cy -= dy / g.s;
        render();
      } else if (panel === compare && compare.dataset.mode === "swipe") {
        swipeAt = clamp((event.clientX - box.left) / vp.clientWidth, 0, 1);
        $("#swipe-pos").value = String(Math.round(swipeAt * 100));
        render();
      }
    });
    const end = (event) => {
      if (!drag || drag.id !== event.pointerId) return;
      const click = drag.moved < 4;
      drag = null;
      vp.classList.remove("dragging");
      if (click && event.type === "pointerup") {
        const g = geometry(vp), box = vp.getBoundingClientRect();
        const hit = regionAt((event.clientX - box.left - g.tx) / g.s, (event.clientY - box.top - g.ty) / g.s);
        if (hit >= 0) selectRegion(hit, false);
      }
    };
    vp.addEventListener("pointerup", end);
    vp.addEventListener("pointercancel", end);
    vp.addEventListener("pointerleave", () => { cursor.textContent = "x –  y –"; });
    vp.addEventListener("dblclick", fit);
  }
  if ("ResizeObserver" in window) {
    const observer = new ResizeObserver(() => render());
    for (const { vp } of viewports) observer.observe(vp);
  }
  window.addEventListener("resize", render);
  $("#zoom-in").addEventListener("click", () => zoomCentre(1.5));
  $("#zoom-out").addEventListener("click", () => zoomCentre(1 / 1.5));
  $("#zoom-fit").addEventListener("click", fit);
  $("#zoom-one").addEventListener("click", actualPixels);

  /* -- regions ----------------------------------------------------------------------------- */
  const regions = data.regions || [];
  const rows = $$("tr.region");
  let current = -1;

  function regionAt(x, y) {
    let best = -1, area = Infinity;
    regions.forEach((r, i) => {
      const [x0, y0, x1, y1] = r;
      const a = (x1 - x0) * (y1 - y0);
      if (x >= x0 && x < x1 && y >= y0 && y < y1 && a < area) { best = i; area = a; }
    });
    return document.body.classList.contains("hide-boxes") ? -1 : best;
  }

  function selectRegion(index, zoom) {
    if (!regions.length) return;
    current = ((index % regions.length) + regions.length) % regions.length;
    rows.forEach((row, i) => row.classList.toggle("active", i === current));
    $$(".boxes g").forEach((g) => g.classList.toggle("active", Number(g.dataset.region) === current));
    const row = rows[current];
    if (row) row.scrollIntoView({ block: "nearest" });
    if (!zoom) return;
    const [x0, y0, x1, y1] = regions[current];
    const bw = Math.max(x1 - x0, 1), bh = Math.max(y1 - y0, 1);
    view.zoom = Math.max(1, Math.min(W / (bw * 2.5), H / (bh * 2.5)));
    view.cx = (x0 + x1) / 2;
    view.cy = (y0 + y1) / 2;
    render();
  }
  rows.forEach((row, i) => {
    row.addEventListener("click", () => selectRegion(i, true));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { selectRegion(i, true); event.preventDefault(); }
    });
  });
  const boxes = $("#show-boxes");
  const setBoxes = (on) => { boxes.checked = on; document.body.classList.toggle("hide-boxes", !on); };
  boxes.addEventListener("change", () => setBoxes(boxes.checked));

  /* -- compare: A and B in place ------------------------------------------------------------ */
  const swap = $("#swap"), flicker = $("#flicker"), swipe = $("#swipe"), rate = $("#flicker-rate");
  const swipePos = $("#swipe-pos");
  let timer = null;

  const onion = $("#onion"), onionLevel = $("#onion-opacity"), onionOut = $("#onion-opacity-value");

  function show(which) {
    compare.dataset.show = which;
    swap.textContent = which === "b" ? "Showing B" : "Showing A";
    swap.setAttribute("aria-pressed", String(which === "b"));
    const mode = compare.dataset.mode;
    $(".badge-ab", compare).textContent = mode === "swipe" ? "A" : mode === "onion" ? "A over B" : which.toUpperCase();
  }
  function setMode(mode) {
    compare.dataset.mode = mode;
    swipe.setAttribute("aria-pressed", String(mode === "swipe"));
    onion.setAttribute("aria-pressed", String(mode === "onion"));
    show(mode === "toggle" ? compare.dataset.show || "a" : "a");
    render();
  }
  /* onion skin: A over B at the slider's opacity (0: B alone, 100: A alone) */
  function setOnion(value) {
    onionLevel.value = String(value);
    onionOut.value = `${value}%`;
    compare.style.setProperty("--onion", String(value / 100));
  }
  const toggleOnion = () => { setFlicker(false); setMode(compare.dataset.mode === "onion" ? "toggle" : "onion"); };
  function setFlicker(on) {
    clearInterval(timer);
    timer = null;
    if (on) {
      if (compare.dataset.mode !== "toggle") setMode("toggle");
      timer = setInterval(() => show(compare.dataset.show === "b" ? "a" : "b"), Number(rate.value) || 500);
    }
    flicker.setAttribute("aria-pressed", String(on));
  }
  const toggleAB = () => {
    setFlicker(false);
    if (compare.dataset.mode !== "toggle") setMode("toggle");
    show(compare.dataset.show === "b" ? "a" : "b");
  };
  swap.addEventListener("click", toggleAB);
  flicker.addEventListener("click", () => setFlicker(timer === null));
  rate.addEventListener("change", () => { if (timer !== null) setFlicker(true); });
  swipe.addEventListener("click", () => { setFlicker(false); setMode(compare.dataset.mode === "swipe" ? "toggle" : "swipe"); });
  swipePos.addEventListener("input", () => { swipeAt = Number(swipePos.value) / 100; render(); });
  onion.addEventListener("click", toggleOnion);
  onionLevel.addEventListener("input", () => setOnion(Number(onionLevel.value)));
  setOnion(Number(onionLevel.value));

  /* -- overlay -------------------------------------------------------------------------------- */
  const overlayPanel = $('.panel[data-panel="overlay"]');
  const opacity = $("#overlay-opacity"), opacityOut = $("#overlay-opacity-value"), blend = $("#overlay-blend");
  const grey = $("#overlay-grey");
  let lastOpacity = Number(opacity.value) || 60;
  function setOpacity(value) {
    opacity.value = String(value);
    opacityOut.value = `${value}%`;
    $$(".overlay-map", overlayPanel).forEach((img) => { img.style.opacity = String(value / 100); });
    if (value > 0) lastOpacity = value;
  }
  opacity.addEventListener("input", () => setOpacity(Number(opacity.value)));
  const setBlend = () => $$(".overlay-map", overlayPanel).forEach((img) => { img.style.mixBlendMode = blend.value; });
  blend.addEventListener("change", setBlend);
  grey.addEventListener("change", () => overlayPanel.classList.toggle("grey", grey.checked));
  setOpacity(Number(opacity.value));
  setBlend();
  overlayPanel.classList.toggle("grey", grey.checked);

  /* mask instead of heatmap, in the map and overlay views */
  const maskToggle = $("#show-mask");
  const setLayer = (layer) => {
    for (const panel of panels) if (panel.dataset.layer) panel.dataset.layer = layer;
    if (maskToggle) maskToggle.checked = layer === "mask";
  };
  if (maskToggle) maskToggle.addEventListener("change", () => setLayer(maskToggle.checked ? "mask" : "heatmap"));

  /* -- enlarge one view ------------------------------------------------------------------------ */
  function maximize(panel) {
    const already = panel && panel.classList.contains("maximized");
    panels.forEach((p) => p.classList.remove("maximized"));
    $$(".panel .max").forEach((b) => b.setAttribute("aria-pressed", "false"));
    if (panel && !already) {
      panel.classList.add("maximized");
      $(".max", panel).setAttribute("aria-pressed", "true");
    }
    document.body.classList.toggle("has-maximized", Boolean(panel && !already));
    render();
  }
  panels.forEach((panel) => $(".max", panel).addEventListener("click", () => maximize(panel)));

  /* -- keyboard -------------------------------------------------------------------------------- */
  const go = (key) => { const href = data.nav && data.nav[key]; if (href) window.location.href = href; return Boolean(href); };
  const keys = {
    "+": () => zoomCentre(1.5), "=": actualPixels, "-": () => zoomCentre(1 / 1.5), "0": fit,
    ArrowLeft: () => pan(-60, 0), ArrowRight: () => pan(60, 0), ArrowUp: () => pan(0, -60), ArrowDown: () => pan(0, 60),
    x: toggleAB, " ": (event) => (event.target.tagName === "BUTTON" ? false : toggleAB()),
    f: () => setFlicker(timer === null),
    s: () => { setFlicker(false); setMode(compare.dataset.mode === "swipe" ? "toggle" : "swipe"); },
    c: toggleOnion,
    o: () => setOpacity(Number(opacity.value) > 0 ? 0 : lastOpacity),
    g: () => { grey.checked = !grey.checked; overlayPanel.classList.toggle("grey", grey.checked); },
    m: () => (maskToggle ? setLayer(maskToggle.checked ? "heatmap" : "mask") : false),
    b: () => setBoxes(!boxes.checked),
    "]": () => selectRegion(current + 1, true), "[": () => selectRegion(current < 0 ? -1 : current - 1, true),
    Escape: () => (document.body.classList.contains("has-maximized") ? maximize(null) : false),
    n: () => go("next"), p: () => go("prev"), u: () => go("index"),
  };
  panels.forEach((panel, i) => { keys[String(i + 1)] = () => maximize(panel); });
  dfind.onKeys(keys);

  compare.dataset.mode = "toggle";
  show("a");
  render();
})();
