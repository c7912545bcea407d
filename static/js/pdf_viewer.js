// In-page PDF viewer (pdf.js, static/vendor/pdfjs) that reports reading time per page.
// Loaded as a module: <script type="module" src="…/pdf_viewer.js" nonce="…">. It drives
// #pdf-viewer, whose data attributes give: data-src (the PDF, same origin), data-module and
// data-worker (the hashed URLs of pdf.min.mjs and pdf.worker.min.mjs), data-beacon (where
// to POST reading time; absent: nothing is sent), data-csrf and data-session (sent back).
// Inside it the template provides <button data-action="prev|next">, <output data-role="page">,
// <div data-role="pages"> and <p data-role="status">.
// Nothing from the PDF ever reaches the page as markup: pages are drawn on canvases (no text
// or annotation layer) and the only text written here is our own, with textContent.

const IDLE_AFTER_MS = 120_000; // no scroll, pointer, key or touch for this long: not reading
const TICK_MS = 1_000;
const MAX_TICK_MS = 2_000; // a timer that was suspended adds at most this much
const SEND_EVERY_MS = 15_000;
const FAILED = "This document could not be shown here. Please use the Download link instead.";

const viewer = document.getElementById("pdf-viewer");
if (viewer) start(viewer);

function start(viewer) {
  const { src, module: moduleUrl, worker: workerUrl, beacon, csrf = "", session = "" } = viewer.dataset;
  const pagesBox = viewer.querySelector('[data-role="pages"]');
  const pageOutput = viewer.querySelector('[data-role="page"]');
  const status = viewer.querySelector('[data-role="status"]');
  const prev = viewer.querySelector('[data-action="prev"]');
  const next = viewer.querySelector('[data-action="next"]');

  let pdf = null;
  const slots = []; // one per page: {number, wrapper, canvas, task, width, near, busy, failed}
  let current = 0; // the page with the largest visible area (0: none is visible)
  let shown = 1; // the page the toolbar names (the last current one)

  // --- Reading time -------------------------------------------------------------------
  // Cumulative whole seconds per page for this viewer session, e.g. {"1": 12, "2": 40}.
  const totals = {};
  const spentMs = {};
  let lastTick = Date.now();
  let lastActivity = Date.now(); // loading the page counts as activity
  let lastSent = "{}";

  const active = () => { lastActivity = Date.now(); };
  for (const type of ["scroll", "pointermove", "pointerdown", "keydown", "wheel", "touchstart"]) {
    window.addEventListener(type, active, { passive: true, capture: true });
  }

  function tick() {
    const now = Date.now();
    const delta = Math.min(Math.max(now - lastTick, 0), MAX_TICK_MS);
    lastTick = now;
    const reading = document.visibilityState === "visible" && now - lastActivity <= IDLE_AFTER_MS;
    if (!reading || !current) return;
    spentMs[current] = (spentMs[current] || 0) + delta;
    totals[current] = Math.floor(spentMs[current] / 1000);
  }
  setInterval(tick, TICK_MS);

  // The cumulative totals: a lost request loses nothing, the server keeps the largest.
  function send(useBeacon) {
    lastSent = JSON.stringify(totals);
    if (!beacon) return Promise.resolve(null);
    const body = new URLSearchParams({ csrfmiddlewaretoken: csrf, session, pages: lastSent });
    if (useBeacon && navigator.sendBeacon && navigator.sendBeacon(beacon, body)) {
      return Promise.resolve(null);
    }
    return fetch(beacon, { method: "POST", body, credentials: "same-origin", keepalive: true });
  }
  const changed = () => JSON.stringify(totals) !== lastSent;
  function sendIfChanged(useBeacon) {
    if (changed()) send(useBeacon).catch(() => { lastSent = ""; }); // try again next time
  }
  setInterval(() => sendIfChanged(false), SEND_EVERY_MS);

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      tick(); // count the time up to now, then send it while we still can
      sendIfChanged(true);
    } else {
      lastTick = Date.now(); // hidden time is not reading time
      active(); // coming back to the tab is the reader's doing
    }
  });
  window.addEventListener("pagehide", () => {
    tick();
    sendIfChanged(true);
  });

  window.tandemPdfViewer = { totals, flush: () => send(false) };

  // --- Failure ------------------------------------------------------------------------
  function fail(error) {
    console.warn("PDF viewer:", error); // a damaged upload is not a bug of this page
    if (status) {
      status.hidden = false;
      status.textContent = FAILED;
    }
    if (prev) prev.disabled = true;
    if (next) next.disabled = true;
  }

  // --- Rendering ----------------------------------------------------------------------
  // Draw a page at the width of the column, sharp on high-density screens. A page that
  // is already drawn at this width is left alone.
  async function render(slot) {
    const width = pagesBox.clientWidth;
    if (!pdf || !width || slot.busy || slot.width === width) return;
    slot.busy = true;
    try {
      const page = await pdf.getPage(slot.number);
      if (!slot.near) return;
      const natural = page.getViewport({ scale: 1 });
      const density = Math.min(window.devicePixelRatio || 1, 3);
      const viewport = page.getViewport({ scale: (width / natural.width) * density });
      const canvas = document.createElement("canvas");
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      slot.wrapper.style.aspectRatio = `${natural.width} / ${natural.height}`;
      slot.task = page.render({ canvas, viewport });
      await slot.task.promise;
      if (!slot.near) {
        canvas.width = canvas.height = 0;
        return;
      }
      if (slot.canvas) slot.canvas.width = slot.canvas.height = 0; // free its memory now
      slot.wrapper.replaceChildren(canvas);
      slot.canvas = canvas;
      slot.width = width;
    } catch (error) {
      if (error?.name !== "RenderingCancelledException") {
        slot.failed = true;
        fail(error);
      }
    } finally {
      slot.task = null;
      slot.busy = false;
    }
    // The column changed width while this page was being drawn: draw it again.
    if (slot.near && !slot.failed && slot.width !== pagesBox.clientWidth) render(slot);
  }

  // Far from the screen again: drop the canvas (a long document would use gigabytes).
  function release(slot) {
    slot.task?.cancel();
    if (slot.canvas) {
      slot.canvas.width = slot.canvas.height = 0;
      slot.canvas.remove();
    }
    slot.canvas = null;
    slot.width = 0;
  }

  // Pages within about a screen of the viewport are drawn; the others are released.
  const nearby = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      const slot = slots[Number(entry.target.dataset.page) - 1];
      slot.near = entry.isIntersecting;
      if (slot.near) render(slot);
      else release(slot);
    }
  }, { rootMargin: "100% 0px" });

  // --- Current page and toolbar -------------------------------------------------------
  function updateCurrent() {
    if (!slots.length) return;
    let best = 0;
    let bestArea = 0;
    for (const slot of slots) {
      const box = slot.wrapper.getBoundingClientRect();
      const high = Math.min(box.bottom, window.innerHeight) - Math.max(box.top, 0);
      const wide = Math.min(box.right, window.innerWidth) - Math.max(box.left, 0);
      const area = Math.max(high, 0) * Math.max(wide, 0);
      if (area > bestArea) [best, bestArea] = [slot.number, area];
    }
    if (best !== current) tick(); // the time so far belongs to the page that was current
    current = best;
    if (best) shown = best;
    if (pageOutput) pageOutput.textContent = `Page ${shown} of ${slots.length}`;
    if (prev) prev.disabled = shown <= 1;
    if (next) next.disabled = shown >= slots.length;
  }
  let frame = 0;
  const scheduleUpdate = () => { frame ||= requestAnimationFrame(() => { frame = 0; updateCurrent(); }); };
  window.addEventListener("scroll", scheduleUpdate, { passive: true, capture: true });
  window.addEventListener("resize", scheduleUpdate);

  // When the column's width changes (rotation, window resize), redraw the nearby pages.
  let lastWidth = 0;
  new ResizeObserver(() => {
    scheduleUpdate();
    const width = pagesBox.clientWidth;
    if (width === lastWidth) return;
    lastWidth = width;
    for (const slot of slots) if (slot.near) render(slot);
  }).observe(pagesBox);

  function go(number) {
    const slot = slots[number - 1];
    if (!slot) return;
    // Stop below the toolbar (sticky, and its height depends on how it wraps).
    const bar = (prev || next)?.parentElement;
    const barHeight = bar && bar !== viewer ? bar.offsetHeight : 0;
    slot.wrapper.style.scrollMarginTop = `${barHeight + 8}px`;
    const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    slot.wrapper.scrollIntoView({ block: "start", behavior: smooth ? "smooth" : "auto" });
  }
  prev?.addEventListener("click", () => go(shown - 1));
  next?.addEventListener("click", () => go(shown + 1));

  // --- Loading ------------------------------------------------------------------------
  async function load() {
    const pdfjs = await import(moduleUrl);
    pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;
    pdf = await pdfjs.getDocument({ url: src, isEvalSupported: false }).promise;
    // Until a page is drawn its box takes the first page's proportions.
    const first = (await pdf.getPage(1)).getViewport({ scale: 1 });
    for (let number = 1; number <= pdf.numPages; number++) {
      const wrapper = document.createElement("div");
      wrapper.className = "pdf-page";
      wrapper.dataset.page = String(number);
      wrapper.setAttribute("role", "img");
      wrapper.setAttribute("aria-label", `Page ${number}`);
      wrapper.style.aspectRatio = `${first.width} / ${first.height}`;
      slots.push({ number, wrapper, canvas: null, task: null, width: 0, near: false, busy: false, failed: false });
      pagesBox.append(wrapper);
      nearby.observe(wrapper);
    }
    if (status) status.textContent = "";
    updateCurrent();
  }
  load().catch(fail);
}
