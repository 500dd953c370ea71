// The browser-camera widget of fer_utils.browser_camera.BrowserCamera (anywidget ES module).
// The camera stays in this page: the video plays here, and only downscaled JPEG frames go to the kernel, one at a
// time. The kernel answers each with boxes, labels and probabilities, which are drawn over the video on a canvas.

const PROBLEMS = {
  insecure:
    "This page is not a secure context, so the browser hides the camera. Open JupyterLab at http://localhost " +
    "(for a remote server, through an SSH tunnel: ssh -L 8888:localhost:8888 SERVER) or over https, then press Start.",
  unsupported: "This browser has no camera API (navigator.mediaDevices.getUserMedia). Use a current Chrome, Firefox or Safari.",
  denied:
    "Camera access was denied. Allow the camera for this site (the camera icon in the address bar, or the site " +
    "settings), then press Start. On macOS the browser itself also needs it: System Settings > Privacy & Security > Camera.",
  missing: "No camera was found. Connect one (or pick another in the browser's site settings), then press Start.",
  busy: "The camera could not be read: another program or tab may hold it (a video call?). Close it, then press Start.",
};

function explain(error) {
  if (error.name === "NotAllowedError" || error.name === "SecurityError") return PROBLEMS.denied;
  if (error.name === "NotFoundError" || error.name === "OverconstrainedError") return PROBLEMS.missing;
  if (error.name === "NotReadableError" || error.name === "AbortError") return PROBLEMS.busy;
  return `The camera could not be started (${error.name}: ${error.message}).`;
}

function render({ model, el }) {
  el.classList.add("fer-camera");
  el.innerHTML = `
    <div class="fer-controls">
      <button class="fer-start" type="button">Start</button>
      <button class="fer-stop" type="button" disabled>Stop</button>
      <label>smoothing <input class="fer-smoothing" type="range" min="0" max="0.95" step="0.05"></label>
      <label><input class="fer-probs" type="checkbox"> probabilities</label>
      <label><input class="fer-mirror" type="checkbox"> mirror</label>
    </div>
    <div class="fer-stage" hidden>
      <video class="fer-video" playsinline muted></video>
      <canvas class="fer-overlay"></canvas>
    </div>
    <div class="fer-problem" role="alert" hidden></div>
    <div class="fer-status">Press Start to use this browser's camera; frames go to the kernel, the video stays here.</div>`;
  const $ = (selector) => el.querySelector(selector);
  const [startButton, stopButton, video, overlay, problem, status] =
    [".fer-start", ".fer-stop", ".fer-video", ".fer-overlay", ".fer-problem", ".fer-status"].map($);
  const controls = { smoothing: $(".fer-smoothing"), show_probs: $(".fer-probs"), mirror: $(".fer-mirror") };

  // Controls mirror the model's traits both ways.
  const showTraits = () => {
    controls.smoothing.value = model.get("smoothing");
    controls.show_probs.checked = model.get("show_probs");
    controls.mirror.checked = model.get("mirror");
    video.classList.toggle("fer-mirrored", model.get("mirror"));
    drawOverlay();
  };
  for (const [name, input] of Object.entries(controls)) {
    input.addEventListener("input", () => {
      model.set(name, input.type === "checkbox" ? input.checked : Number(input.value));
      model.save_changes();
    });
    model.on(`change:${name}`, showTraits);
  }

  const grab = document.createElement("canvas");
  let stream = null;
  let inFlight = null; // {id, sentAt} of the one frame the kernel has not answered yet
  let frameId = 0;
  let last = { faces: [], width: 1, height: 1 };
  let rates = []; // arrival times of recent answers, for the analysed frame rate
  let roundTrip = 0;
  let kernelMs = 0;
  let analysed = 0;
  let statsSavedAt = 0;
  let waitTimer = null;

  const setState = (state, message = "") => {
    el.dataset.camera = state;
    problem.hidden = !message;
    problem.textContent = message;
    model.set("camera_state", state);
    model.set("problem", message);
    model.save_changes();
  };
  const liveTracks = () => (stream ? stream.getTracks().filter((t) => t.readyState === "live").length : 0);

  async function start() {
    if (stream) return;
    if (!window.isSecureContext) return setState("error", PROBLEMS.insecure);
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return setState("error", PROBLEMS.unsupported);
    startButton.disabled = true;
    status.textContent = "asking for the camera…";
    setState("starting");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      startButton.disabled = false;
      status.textContent = "camera off";
      return setState("error", explain(error));
    }
    video.srcObject = stream;
    await video.play();
    $(".fer-stage").hidden = false;
    stopButton.disabled = false;
    el.dataset.liveTracks = liveTracks();
    analysed = 0;
    rates = [];
    setState("on");
    sendFrame();
  }

  function stop() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    el.dataset.liveTracks = liveTracks();
    stream = null;
    inFlight = null;
    clearTimeout(waitTimer);
    video.srcObject = null;
    $(".fer-stage").hidden = true;
    last = { faces: [], width: 1, height: 1 };
    startButton.disabled = false;
    stopButton.disabled = true;
    status.textContent = `stopped; camera released (${analysed} frames analysed)`;
    model.send({ type: "stopped" });
    setState("released");
  }

  function sendFrame() {
    if (!stream || inFlight) return;
    if (video.readyState < 2 || !video.videoWidth) {
      waitTimer = setTimeout(sendFrame, 30);
      return;
    }
    const width = Math.min(model.get("frame_width"), video.videoWidth);
    const height = Math.round((video.videoHeight * width) / video.videoWidth);
    grab.width = width;
    grab.height = height;
    grab.getContext("2d").drawImage(video, 0, 0, width, height);
    const id = ++frameId;
    inFlight = { id, sentAt: performance.now() };
    grab.toBlob(async (blob) => {
      const buffer = await blob.arrayBuffer();
      if (!inFlight || inFlight.id !== id) return; // stopped meanwhile
      inFlight.sentAt = performance.now();
      model.send({ type: "frame", id, width, height }, undefined, [buffer]);
      clearTimeout(waitTimer);
      waitTimer = setTimeout(() => {
        if (inFlight && inFlight.id === id) status.textContent = "waiting for the kernel: it is busy (running a cell?); analysis resumes when it is idle";
      }, 3000);
    }, "image/jpeg", model.get("jpeg_quality"));
  }

  model.on("msg:custom", (message) => {
    if (message.type !== "result" || !inFlight || message.id !== inFlight.id) return;
    const now = performance.now();
    roundTrip = now - inFlight.sentAt;
    kernelMs = message.kernel_ms;
    inFlight = null;
    clearTimeout(waitTimer);
    analysed += 1;
    rates = rates.filter((t) => now - t < 2000).concat(now);
    const fps = rates.length > 1 ? ((rates.length - 1) * 1000) / (now - rates[0]) : 0;
    last = message;
    drawOverlay();
    const faces = message.faces;
    const labels = faces.map((f) => `${f.label} ${Math.round(100 * f.confidence)}%`).join(", ");
    status.textContent = `${faces.length} face${faces.length === 1 ? "" : "s"}${labels ? ` (${labels})` : ""} · ` +
      `${fps.toFixed(1)} analysed frames/s · ${roundTrip.toFixed(0)} ms round trip (kernel ${kernelMs.toFixed(0)} ms)`;
    Object.assign(el.dataset, { faces: faces.length, labels: faces.map((f) => f.label).join(","), analysed,
      fps: fps.toFixed(2), roundTripMs: roundTrip.toFixed(1) });
    if (now - statsSavedAt > 1000) {
      statsSavedAt = now;
      model.set("analysed_fps", fps);
      model.set("round_trip_ms", roundTrip);
      model.set("frames_analysed", analysed);
      model.save_changes();
    }
    sendFrame();
  });

  function drawOverlay() {
    const width = video.clientWidth || video.videoWidth;
    const height = video.clientHeight || video.videoHeight;
    overlay.width = width;
    overlay.height = height;
    const context = overlay.getContext("2d");
    context.clearRect(0, 0, width, height);
    if (!stream) return;
    const sx = width / last.width;
    const sy = height / last.height;
    const mirror = model.get("mirror");
    const emotions = model.get("emotions");
    context.font = "14px sans-serif";
    context.lineWidth = 2;
    for (const face of last.faces) {
      const [bx, by, bw, bh] = face.box;
      const x = (mirror ? last.width - bx - bw : bx) * sx;
      const [y, w, h] = [by * sy, bw * sx, bh * sy];
      context.strokeStyle = context.fillStyle = "rgb(0, 220, 0)";
      context.strokeRect(x, y, w, h);
      context.fillText(`${face.label} ${Math.round(100 * face.confidence)}%`, x, Math.max(y - 6, 14));
      if (!model.get("show_probs")) continue;
      const barX = x + w + 94 < width ? x + w + 4 : Math.max(x - 94, 0);
      context.font = "10px sans-serif";
      face.probs.forEach((p, k) => {
        context.fillStyle = "rgb(255, 180, 0)";
        context.fillRect(barX, y + k * 13, 40 * p, 10);
        context.fillStyle = "white";
        context.fillText(emotions[k].slice(0, 3), barX + 44, y + k * 13 + 9);
      });
      context.font = "14px sans-serif";
    }
  }

  startButton.addEventListener("click", start);
  stopButton.addEventListener("click", stop);
  window.addEventListener("resize", drawOverlay);
  el.dataset.camera = "off";
  el.dataset.liveTracks = 0;
  showTraits();
  return () => {
    window.removeEventListener("resize", drawOverlay);
    if (stream) stop();
  };
}

export default { render };
