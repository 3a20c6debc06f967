// The compose page: generate through the JSON API with live progress (server-sent events), pick a
// variant, upload pictures in place (or drop them), then publish. Without this script the page still
// uploads and publishes pictures, moods and words through plain forms.
"use strict";

(function () {
  const root = document.getElementById("compose");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector("#post-form input[name=csrf_token]").value;
  const state = { capabilities: null, job: null, events: null, media: [], selected: null, remixOf: null };

  async function api(method, url, body) {
    const json = body && !(body instanceof FormData); // FormData: the browser sets the multipart boundary
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: Object.assign({ Accept: "application/json" }, json ? { "Content-Type": "application/json" } : {},
        method === "GET" ? {} : { "X-CSRF-Token": csrf }),
      body: json ? JSON.stringify(body) : body,
    });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const message = (data && data.error) || `The server answered ${response.status}.`;
      const error = new Error(message);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function showError(id, message) {
    const box = $(id);
    box.textContent = message || "";
    box.hidden = !message;
  }

  function option(value, label) {
    const element = document.createElement("option");
    element.value = value;
    element.textContent = label;
    return element;
  }

  // --- capabilities -------------------------------------------------------------------------
  async function loadGenerator() {
    try {
      state.capabilities = await api("GET", "/api/generator");
    } catch (error) {
      $("generator-missing").hidden = false;
      $("generate-form").hidden = true;
      return;
    }
    const caps = state.capabilities;
    for (const style of caps.styles || []) $("style").append(option(style, style.replace(/[-_]/g, " ")));
    const sizes = caps.sizes && caps.sizes.length ? caps.sizes : [[caps.default_width || 1024, caps.default_height || 1024]];
    for (const [w, h] of sizes) {
      const shape = w === h ? "square" : w > h ? "landscape" : "portrait";
      const element = option(`${w}x${h}`, `${w} × ${h} (${shape})`);
      if (w === caps.default_width && h === caps.default_height) element.selected = true;
      $("size").append(element);
    }
    $("variants").textContent = "";
    for (let n = 1; n <= (caps.max_variants || 1); n++) $("variants").append(option(String(n), String(n)));
    if (!caps.supports_seed) $("seed").closest(".field-row").hidden = true;
    $("negative-options").hidden = !caps.supports_negative_prompt;
    if (root.dataset.remix) await loadRemix(root.dataset.remix);
  }

  async function loadRemix(source) {
    try {
      const recipe = await api("GET", `/api/remix?source=${encodeURIComponent(source)}`);
      $("prompt").value = recipe.prompt || "";
      $("negative_prompt").value = recipe.negative_prompt || "";
      if (recipe.seed !== null && recipe.seed !== undefined) {
        $("seed").value = String(recipe.seed);
        $("random-seed").checked = false;
      }
      if (recipe.style) $("style").value = recipe.style;
      if (recipe.width && recipe.height) $("size").value = `${recipe.width}x${recipe.height}`;
      state.remixOf = recipe.remix_of || source;
      $("remix-banner").hidden = false;
    } catch (error) {
      showError("generate-error", `This post cannot be remixed: ${error.message}`);
    }
  }

  // --- generating ---------------------------------------------------------------------------
  function request() {
    const [width, height] = ($("size").value || "").split("x").map(Number);
    const body = { prompt: $("prompt").value.trim(), variants: Number($("variants").value || 1) };
    if ($("style").value) body.style = $("style").value;
    if (width && height) Object.assign(body, { width, height });
    if ($("negative_prompt").value.trim()) body.negative_prompt = $("negative_prompt").value.trim();
    if ($("random-seed").checked) {
      $("seed").value = "";
    } else if ($("seed").value.trim()) {
      body.seed = Number($("seed").value.trim());
    }
    if (state.remixOf) body.remix_of = state.remixOf;
    return body;
  }

  function setProgress(step, total, text) {
    const percent = total ? Math.min(100, Math.round((100 * step) / total)) : 0;
    $("progress").setAttribute("aria-valuenow", String(percent));
    $("progress-fill").style.width = `${percent}%`;
    if (text) $("progress-text").textContent = text;
  }

  function setBusy(busy) {
    $("generate-button").disabled = busy;
    $("regenerate-button").disabled = busy;
    $("cancel-button").hidden = !busy;
    $("progress-block").hidden = false;
    root.classList.toggle("is-generating", busy);
  }

  async function generate(event) {
    if (event) event.preventDefault();
    showError("generate-error", "");
    const body = request();
    if (!body.prompt) {
      showError("generate-error", "Describe the image you want first.");
      $("prompt").focus();
      return;
    }
    if (body.seed !== undefined && !(Number.isInteger(body.seed) && body.seed >= 0)) {
      showError("generate-error", "The seed is a whole number, or leave it empty for a random one.");
      return;
    }
    setBusy(true);
    setProgress(0, 1, "Waiting in line…");
    try {
      state.job = await api("POST", "/api/generations", body);
      follow(state.job);
    } catch (error) {
      setBusy(false);
      $("progress-block").hidden = true;
      showError("generate-error", error.message);
    }
  }

  function follow(job) {
    if (state.events) state.events.close();
    const events = new EventSource(job.events_url);
    state.events = events;
    const finish = () => { events.close(); state.events = null; setBusy(false); };
    events.addEventListener("queued", () => setProgress(0, 1, "Waiting in line…"));
    events.addEventListener("started", () => setProgress(0, 1, "Painting…"));
    events.addEventListener("progress", (message) => {
      const data = JSON.parse(message.data);
      setProgress(data.step, data.total, `Painting… ${data.step} of ${data.total}${data.stage ? ` (${data.stage})` : ""}`);
    });
    events.addEventListener("completed", (message) => {
      finish();
      setProgress(1, 1, "Done.");
      showVariants(JSON.parse(message.data).media || []);
    });
    events.addEventListener("failed", (message) => {
      finish();
      $("progress-block").hidden = true;
      showError("generate-error", JSON.parse(message.data).error || "The image could not be painted.");
    });
    events.addEventListener("cancelled", () => { finish(); setProgress(0, 1, "Cancelled."); });
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED && state.events === events) pollStatus(job);
    };
  }

  async function pollStatus(job) {
    // The stream closed without a final event (a proxy cut it): ask once for the job's state.
    try {
      const status = await api("GET", job.status_url);
      if (status.state === "succeeded") { setBusy(false); showVariants(status.media || []); }
      else if (status.state === "failed") { setBusy(false); showError("generate-error", status.error || "The image could not be painted."); }
      else if (status.state === "cancelled") { setBusy(false); }
      else follow(job);
    } catch (error) {
      setBusy(false);
      showError("generate-error", error.message);
    }
  }

  async function cancel() {
    if (!state.job) return;
    try { await api("POST", `/api/generations/${state.job.id}/cancel`); } catch (error) { showError("generate-error", error.message); }
  }

  function showVariants(media) {
    state.media = media;
    const grid = $("variant-grid");
    grid.textContent = "";
    media.forEach((item, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "variant";
      button.setAttribute("role", "radio");
      button.setAttribute("aria-checked", "false");
      button.setAttribute("aria-label", `Image ${index + 1}${item.seed !== undefined && item.seed !== null ? `, seed ${item.seed}` : ""}`);
      const image = document.createElement("img");
      image.src = item.thumbnail_url || item.url;
      image.alt = item.alt_text || "";
      button.append(image);
      button.addEventListener("click", () => select(index));
      grid.append(button);
    });
    $("variants-block").hidden = media.length === 0;
    if (media.length) select(0);
  }

  function select(index) {
    state.selected = state.media[index];
    $("variant-grid").querySelectorAll(".variant").forEach((element, i) => element.setAttribute("aria-checked", String(i === index)));
    const item = state.selected;
    $("preview-image").src = item.url;
    $("preview-image").alt = item.alt_text || "";
    $("preview-caption").textContent = item.seed !== undefined && item.seed !== null ? `Seed ${item.seed}` : "";
    $("compose-preview").hidden = false;
    $("alt-field").hidden = false;
    $("hide-prompt-field").hidden = false;
    if (!$("alt_text").dataset.edited) $("alt_text").value = $("hide_prompt").checked ? "" : item.alt_text || $("prompt").value.trim();
    if (item.seed !== undefined && item.seed !== null && $("random-seed").checked) $("seed").placeholder = `random (last: ${item.seed})`;
  }

  // --- uploading ----------------------------------------------------------------------------
  const maxImages = Number(root.dataset.maxImages || 4);
  const uploadForm = $("upload-form");

  function uploads() {
    return Array.from($("attachments").querySelectorAll(".attachment"));
  }

  function renumber() {
    uploads().forEach((item, index) => {
      item.querySelector("label").textContent = `Describe picture ${index + 1} (alt text)`;
    });
    $("alt-warning").hidden = true;
  }

  function addAttachment(media) {
    const item = $("attachment-template").content.firstElementChild.cloneNode(true);
    const id = `alt-${media.id}`;
    item.dataset.mediaId = String(media.id);
    item.querySelector("img").src = media.thumbnail_url || media.url;
    item.querySelector("input[type=hidden]").value = String(media.id);
    item.querySelector("label").htmlFor = id;
    const alt = item.querySelector("textarea");
    alt.id = id;
    alt.name = `alt_text_${media.id}`;
    alt.value = media.alt_text || "";
    $("attachments").append(item);
    renumber();
  }

  function setUploading(name) {
    $("upload-panel").setAttribute("aria-busy", String(Boolean(name)));
    $("upload-file").disabled = Boolean(name);
    $("upload-status").hidden = !name;
    $("upload-status").textContent = name ? `Uploading ${name}…` : "";
  }

  async function uploadFiles(files) {
    showError("upload-error", "");
    for (const file of files) {
      if (uploads().length + (state.selected ? 1 : 0) >= maxImages) {
        showError("upload-error", `A post holds at most ${maxImages} pictures.`);
        break;
      }
      if (file.size > Number(uploadForm.dataset.maxBytes)) {
        showError("upload-error", `${file.name} is too large: at most ${uploadForm.dataset.maxMb} MB.`);
        continue;
      }
      setUploading(file.name);
      try {
        const body = new FormData();
        body.append("file", file);
        addAttachment(await api("POST", "/api/media", body));
      } catch (error) {
        showError("upload-error", `${file.name}: ${error.message}`);
      } finally {
        setUploading("");
      }
    }
    $("upload-file").value = "";
  }

  async function removeAttachment(event) {
    const link = event.target.closest(".attachment-remove");
    if (!link) return;
    event.preventDefault();
    const item = link.closest(".attachment");
    try {
      await api("DELETE", `/api/media/${item.dataset.mediaId}`);
      item.remove();
      renumber();
    } catch (error) {
      showError("post-error", error.message);
    }
  }

  function enableDropping() {
    const zone = $("upload-drop");
    const dragging = (on) => (event) => { event.preventDefault(); zone.classList.toggle("is-dragging", on); };
    zone.addEventListener("dragenter", dragging(true));
    zone.addEventListener("dragover", dragging(true));
    zone.addEventListener("dragleave", dragging(false));
    zone.addEventListener("drop", (event) => {
      dragging(false)(event);
      if (!$("upload-file").disabled) uploadFiles(Array.from(event.dataTransfer.files));
    });
    zone.querySelector(".drop-hint").hidden = false;
  }

  // --- moods --------------------------------------------------------------------------------
  function pickMood(event) {
    const chip = event.target.closest(".mood-choice");
    if (!chip) return;
    const on = chip.getAttribute("aria-pressed") !== "true";
    document.querySelectorAll(".mood-choice").forEach((element) => element.setAttribute("aria-pressed", "false"));
    chip.setAttribute("aria-pressed", String(on));
    $("mood_emoji").value = on ? chip.dataset.emoji : "";
    $("mood_word").value = on ? chip.dataset.word : "";
  }

  // --- publishing ---------------------------------------------------------------------------
  function attachedMedia() {
    const media = state.selected ? [{ id: state.selected.id, alt: $("alt_text") }] : [];
    for (const item of uploads()) media.push({ id: item.dataset.mediaId, alt: item.querySelector("textarea") });
    return media;
  }

  async function publish(event) {
    const media = attachedMedia();
    if (!media.length) return; // no image: the plain form posts text and mood
    event.preventDefault();
    showError("post-error", "");
    const undescribed = media.find((item) => !item.alt.value.trim());
    if (undescribed && $("alt-warning").hidden) {
      $("alt-warning").hidden = false; // a gentle nudge once; pressing Publish again posts anyway
      undescribed.alt.focus();
      return;
    }
    $("publish-button").disabled = true;
    const body = {
      media_ids: media.map((item) => item.id),
      caption: $("caption").value,
      mood_emoji: $("mood_emoji").value.trim(),
      mood_word: $("mood_word").value.trim(),
      content_warning: $("content_warning").value.trim(),
      sensitive: $("sensitive").checked,
      visibility: $("visibility").value,
      alt_texts: Object.fromEntries(media.map((item) => [item.id, item.alt.value])),
      hide_prompt: !$("hide-prompt-field").hidden && $("hide_prompt").checked,
    };
    if (state.remixOf) body.remix_of = state.remixOf;
    try {
      const post = await api("POST", "/api/posts", body);
      window.location.assign(post.url);
    } catch (error) {
      $("publish-button").disabled = false;
      showError("post-error", error.message);
    }
  }

  $("generate-form").addEventListener("submit", generate);
  $("regenerate-button").addEventListener("click", generate);
  $("cancel-button").addEventListener("click", cancel);
  $("mood-chips").addEventListener("click", pickMood);
  $("alt_text").addEventListener("input", () => { $("alt_text").dataset.edited = "1"; });
  $("hide_prompt").addEventListener("change", () => {
    // the generator's description is written from the prompt: a private prompt needs the author's own words
    if (state.selected && !$("alt_text").dataset.edited) $("alt_text").value = $("hide_prompt").checked ? "" : state.selected.alt_text || "";
  });
  $("post-form").addEventListener("submit", publish);
  $("attachments").addEventListener("click", removeAttachment);
  $("upload-file").addEventListener("change", () => uploadFiles(Array.from($("upload-file").files)));
  uploadForm.addEventListener("submit", (event) => { event.preventDefault(); uploadFiles(Array.from($("upload-file").files)); });
  $("upload-button").hidden = true; // choosing a file uploads it at once
  enableDropping();
  loadGenerator();
})();
