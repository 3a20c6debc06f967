// Progressive enhancement for every page: blurhash placeholders, revealing sensitive images,
// confirmations, and readable errors for in-place (htmx) actions. Pages work without it.
"use strict";

(function () {
  const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

  function decode83(text) {
    let value = 0;
    for (const ch of text) value = value * 83 + DIGITS.indexOf(ch);
    return value;
  }
  const toLinear = (v) => { const c = v / 255; return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const toSrgb = (v) => {
    const c = Math.max(0, Math.min(1, v));
    return Math.round(c <= 0.0031308 ? c * 12.92 * 255 + 0.5 : (1.055 * Math.pow(c, 1 / 2.4) - 0.055) * 255 + 0.5);
  };
  const signPow = (v, e) => Math.sign(v) * Math.pow(Math.abs(v), e);

  // Blurhash decoding (https://blurha.sh, the algorithm Mastodon and Pixelfed use) into a small canvas.
  function paintBlurhash(canvas) {
    const hash = canvas.dataset.blurhash;
    if (!hash || hash.length < 6) return;
    const size = decode83(hash[0]);
    const nx = (size % 9) + 1, ny = Math.floor(size / 9) + 1;
    if (hash.length !== 4 + 2 * nx * ny) return;
    const maximum = (decode83(hash[1]) + 1) / 166;
    const colors = [];
    const dc = decode83(hash.slice(2, 6));
    colors.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    for (let i = 1; i < nx * ny; i++) {
      const v = decode83(hash.slice(4 + i * 2, 6 + i * 2));
      const q = (x) => signPow((x - 9) / 9, 2) * maximum;
      colors.push([q(Math.floor(v / 361)), q(Math.floor(v / 19) % 19), q(v % 19)]);
    }
    const width = canvas.width, height = canvas.height;
    const context = canvas.getContext("2d");
    const pixels = context.createImageData(width, height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let r = 0, g = 0, b = 0;
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
            const c = colors[i + j * nx];
            r += c[0] * basis; g += c[1] * basis; b += c[2] * basis;
          }
        }
        const at = 4 * (x + y * width);
        pixels.data[at] = toSrgb(r); pixels.data[at + 1] = toSrgb(g); pixels.data[at + 2] = toSrgb(b); pixels.data[at + 3] = 255;
      }
    }
    context.putImageData(pixels, 0, 0);
    canvas.dataset.painted = "1";
  }

  function enhance(scope) {
    scope.querySelectorAll("canvas[data-blurhash]:not([data-painted])").forEach(paintBlurhash);
    scope.querySelectorAll("img[loading=lazy]:not([data-watched])").forEach((image) => {
      image.dataset.watched = "1";
      const done = () => image.classList.add("is-loaded");
      if (image.complete && image.naturalWidth) done(); else image.addEventListener("load", done, { once: true });
    });
  }

  function toast(message) {
    let box = document.getElementById("toast");
    if (!box) {
      box = document.createElement("div");
      box.id = "toast";
      box.className = "toast";
      box.setAttribute("role", "alert");
      document.body.append(box);
    }
    box.textContent = message;
    box.classList.add("is-visible");
    clearTimeout(box.hideTimer);
    box.hideTimer = setTimeout(() => box.classList.remove("is-visible"), 6000);
  }

  document.addEventListener("click", (event) => {
    const reveal = event.target.closest("[data-reveal]");
    if (reveal) {
      reveal.closest(".is-sensitive").classList.remove("is-sensitive");
      reveal.remove();
      event.preventDefault();
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    let message = `Something went wrong (${xhr.status}).`;
    try {
      const page = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const text = page.querySelector(".error-page p");
      if (text) message = text.textContent.trim();
    } catch (_) { /* keep the generic message */ }
    toast(message);
  });
  document.addEventListener("htmx:sendError", () => toast("The server could not be reached. Check your connection."));
  document.addEventListener("htmx:afterSettle", (event) => enhance(event.target));
  document.addEventListener("DOMContentLoaded", () => enhance(document));
})();
