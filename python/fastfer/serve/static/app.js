// The page of `fastfer serve`: a photo goes to POST /v1/analyze, camera frames to WS /v1/stream;
// the faces are drawn on the canvas over the image and listed with a bar chart each.
"use strict";

const LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
const COLORS = {angry: "#d92d20", disgust: "#7a5af8", fear: "#f79009", happy: "#12b76a",
                sad: "#2e90fa", surprise: "#ee46bc", neutral: "#667085"};
const canvas = document.getElementById("canvas");
const ctx = canvas.getContext("2d");
const video = document.getElementById("video");
const statusLine = document.getElementById("status");
const list = document.getElementById("faces");
const cameraButton = document.getElementById("camera");
const stage = document.getElementById("stage");
let camera = null;  // {stream, socket, busy} while the camera is on

function authHeaders() {
  const key = document.getElementById("key").value.trim();
  return key ? {Authorization: "Bearer " + key} : {};
}

function say(text, isError) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", Boolean(isError));
}

function faceName(face, index) {
  return face.track_id !== undefined ? "#" + face.track_id : "face " + (index + 1);
}

// Boxes, landmarks and "name label NN%" over `source` (an image bitmap or the video).
function drawFaces(source, width, height, faces) {
  canvas.width = width;
  canvas.height = height;
  canvas.hidden = false;
  document.getElementById("drop").hidden = true;
  ctx.drawImage(source, 0, 0, width, height);
  const line = Math.max(2, Math.round(Math.max(width, height) / 300));
  const fontSize = Math.max(14, Math.round(Math.max(width, height) / 40));
  ctx.font = `600 ${fontSize}px system-ui, sans-serif`;
  ctx.textBaseline = "bottom";
  const drawn = [];
  faces.forEach((face, i) => {
    const [x1, y1, x2, y2] = face.box;
    const color = COLORS[face.label] || "#1f7a5a";
    ctx.lineWidth = line;
    ctx.strokeStyle = color;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.fillStyle = color;
    for (const [x, y] of face.landmarks) {
      ctx.beginPath();
      ctx.arc(x, y, line * 1.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    const text = `${faceName(face, i)} ${face.label} ${Math.round(100 * face.probs[face.label])}%`;
    const textWidth = ctx.measureText(text).width + 8;
    const top = y1 - fontSize - 6 >= 0 ? y1 : y2 + fontSize + 6;
    ctx.fillRect(x1 - line / 2, top - fontSize - 6, textWidth, fontSize + 6);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x1 + 4 - line / 2, top - 3);
    drawn.push(text);
  });
  canvas.dataset.drawn = JSON.stringify(drawn);  // what was written on the canvas, for tests
}

function listFaces(faces) {
  list.replaceChildren(...faces.map((face, i) => {
    const item = document.createElement("li");
    item.dataset.label = face.label;
    if (face.track_id !== undefined) item.dataset.trackId = face.track_id;
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = `${faceName(face, i)}: ${face.label}`;
    title.style.color = COLORS[face.label] || "inherit";
    item.append(title);
    for (const label of LABELS) {
      const p = face.probs[label];
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
      bar.querySelector(".name").textContent = label;
      bar.querySelector(".fill").style.width = (100 * p).toFixed(1) + "%";
      bar.querySelector(".fill").style.background = COLORS[label];
      bar.querySelector(".value").textContent = (100 * p).toFixed(0) + "%";
      item.append(bar);
    }
    return item;
  }));
}

function timingText(result, roundTrip) {
  const t = result.timing_ms || {};
  const server = t.total !== undefined ? t.total : t.analysis;
  const faces = result.faces.length === 1 ? "1 face" : result.faces.length + " faces";
  return `${faces}; ${result.width}×${result.height}; round trip ${roundTrip.toFixed(0)} ms` +
    (server !== undefined ? `, analysis ${server.toFixed(1)} ms` : "");
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error}`;
  } catch (e) {
    return `${response.status}: ${response.statusText}`;
  }
}

async function analyzeFile(file) {
  if (!file) return;
  stopCamera();
  say("Analysing " + file.name + " ...");
  const started = performance.now();
  let response;
  try {
    response = await fetch("/v1/analyze", {method: "POST", body: file,
      headers: {"Content-Type": file.type || "application/octet-stream", ...authHeaders()}});
  } catch (e) {
    say("The server did not answer: " + e.message, true);
    return;
  }
  if (!response.ok) {
    say(await errorText(response), true);
    return;
  }
  const result = await response.json();
  const roundTrip = performance.now() - started;
  const bitmap = await createImageBitmap(file, {imageOrientation: "from-image"});
  drawFaces(bitmap, result.width, result.height, result.faces);
  listFaces(result.faces);
  say(timingText(result, roundTrip));
}

// --- the camera: one frame in flight at a time, each sent once the previous reply is in.
async function startCamera() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
  } catch (e) {
    say("No camera: " + e.message, true);
    return;
  }
  video.srcObject = stream;
  await video.play();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/v1/stream");
  socket.binaryType = "arraybuffer";
  camera = {stream, socket, sentAt: 0};
  cameraButton.textContent = "Stop camera";
  cameraButton.setAttribute("aria-pressed", "true");
  socket.onopen = () => {
    const key = authHeaders().Authorization;
    if (key) socket.send(JSON.stringify({authorization: key}));
    sendFrame();
  };
  socket.onmessage = (event) => onStreamReply(JSON.parse(event.data));
  socket.onclose = (event) => {
    if (camera && camera.socket === socket) {
      stopCamera();
      say(`The stream closed (${event.code}${event.reason ? ": " + event.reason : ""}).`, event.code !== 1000);
    }
  };
}

const grab = document.createElement("canvas");

function sendFrame() {
  if (!camera || camera.socket.readyState !== WebSocket.OPEN) return;
  grab.width = video.videoWidth || 640;
  grab.height = video.videoHeight || 480;
  grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
  grab.toBlob((blob) => {
    if (!camera || !blob) return;
    camera.sentAt = performance.now();
    camera.socket.send(blob);
  }, "image/jpeg", 0.85);
}

function onStreamReply(reply) {
  if (!camera) return;
  const roundTrip = performance.now() - camera.sentAt;
  if (reply.error) {
    say(`Frame refused (${reply.status}): ${reply.error}`, true);
  } else {
    drawFaces(grab, reply.width, reply.height, reply.faces);
    listFaces(reply.faces);
    say(`frame ${reply.frame}: ` + timingText(reply, roundTrip));
  }
  requestAnimationFrame(sendFrame);
}

function stopCamera() {
  if (!camera) return;
  const {stream, socket} = camera;
  camera = null;
  socket.close(1000);
  stream.getTracks().forEach((track) => track.stop());
  cameraButton.textContent = "Start camera";
  cameraButton.setAttribute("aria-pressed", "false");
}

document.getElementById("file").addEventListener("change", (event) => analyzeFile(event.target.files[0]));
cameraButton.addEventListener("click", () => (camera ? stopCamera() : startCamera()));
stage.addEventListener("dragover", (event) => { event.preventDefault(); stage.classList.add("over"); });
stage.addEventListener("dragleave", () => stage.classList.remove("over"));
stage.addEventListener("drop", (event) => {
  event.preventDefault();
  stage.classList.remove("over");
  analyzeFile(event.dataTransfer.files[0]);
});
