// The door scanner: camera (BarcodeDetector) or manual entry, big green/red answers, a live
// count, and offline operation. Online, every scan asks the server (POST /api/checkin/redeem).
// Offline, the secret's Ed25519 signature is verified in the browser (WebCrypto) with the
// event's public key, its fingerprint is looked up in the signed snapshot kept in IndexedDB,
// and the scan is queued; the queue is uploaded as one batch as soon as the network is back.
// The server stays authoritative: the upload's answers are recorded there, not here.
(() => {
  "use strict";

  const root = document.getElementById("scanner");
  if (!root) return;
  const eventId = root.dataset.event;
  const DB_NAME = "ticketflow-checkin";
  const SIGNED_LENGTH = 33;
  const SECRET_LENGTH = 97;
  const SYNC_EVERY_MS = 15000;
  const BATCH_LIMIT = 500;
  const device = localStorage.getItem("ticketflow-device") || crypto.randomUUID().slice(0, 8);
  localStorage.setItem("ticketflow-device", device);

  const $ = (id) => document.getElementById(id);
  let snapshot = null; // {event_id, public_key, generated_at, status: {fingerprint: status}, sold}
  let publicKey = null;

  // --- IndexedDB: the snapshot per event, and the queue of offline scans ------------------------

  const dbReady = new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("snapshots", { keyPath: "event_id" });
      request.result.createObjectStore("queue", { keyPath: "nonce" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

  async function store(name, mode, work) {
    const db = await dbReady;
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(name, mode);
      const request = work(transaction.objectStore(name));
      transaction.oncomplete = () => resolve(request && request.result);
      transaction.onerror = () => reject(transaction.error);
    });
  }

  const queued = () => store("queue", "readonly", (s) => s.getAll()).then((all) => all.filter((q) => q.event_id === eventId));

  // --- bytes, canonical JSON, signatures ---------------------------------------------------------

  function unb64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
    const binary = atob(base64);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

  function uuidOf(bytes) {
    const h = hex(bytes);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // The server signs json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True).
  function canonical(value) {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value && typeof value === "object") {
      return `{${Object.keys(value).sort().map((k) => `${canonical(k)}:${canonical(value[k])}`).join(",")}}`;
    }
    return JSON.stringify(value).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }

  const importKey = (key) => crypto.subtle.importKey("raw", unb64url(key), { name: "Ed25519" }, false, ["verify"]);
  const verify = (key, signature, data) => crypto.subtle.verify({ name: "Ed25519" }, key, signature, data);

  async function fingerprint(secret) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
    return hex(new Uint8Array(digest).slice(0, 16));
  }

  // --- the snapshot ------------------------------------------------------------------------------

  async function loadSnapshot() {
    snapshot = await store("snapshots", "readonly", (s) => s.get(eventId));
    if (snapshot) publicKey = await importKey(snapshot.public_key);
  }

  async function refreshSnapshot() {
    const since = snapshot ? `?since=${encodeURIComponent(snapshot.generated_at)}` : "";
    const response = await fetch(root.dataset.snapshot + since, { credentials: "same-origin" });
    if (!response.ok) throw new Error(`snapshot: ${response.status}`);
    const body = await response.json();
    const { signature, ...signed } = body;
    // The first snapshot comes over the signed-in session; later ones must keep its key.
    if (snapshot && signed.public_key !== snapshot.public_key) throw new Error("the event's key changed");
    const key = await importKey(signed.public_key);
    const data = new TextEncoder().encode(canonical(signed));
    if (!(await verify(key, unb64url(signature), data))) throw new Error("the snapshot's signature does not verify");
    const status = snapshot ? snapshot.status : {};
    for (const name of ["valid", "checked_in", "revoked"]) for (const fp of signed[name]) status[fp] = name;
    // Scans not uploaded yet stay checked in here, whatever the server has not heard of.
    for (const scan of await queued()) if (scan.local === "ok" && scan.type === "entry") status[scan.fingerprint] = "checked_in";
    snapshot = { event_id: eventId, public_key: signed.public_key, generated_at: signed.generated_at, status, sold: signed.sold };
    publicKey = key;
    await store("snapshots", "readwrite", (s) => s.put(snapshot));
  }

  // --- answers -----------------------------------------------------------------------------------

  const TITLES = {
    ok: "Admitted",
    already_redeemed: "Already checked in",
    revoked: "Ticket cancelled",
    unknown: "Not a valid ticket",
    wrong_event: "Ticket for another event",
    error: "Could not check this ticket",
  };

  const OFFLINE_DETAILS = {
    ok: "Genuine ticket, not used yet.",
    already_redeemed: "This device's records show it already used.",
    revoked: "The booking was cancelled or refunded.",
    unknown: "Its signature does not check out: not one of ours.",
    wrong_event: "It is a ticket for another event.",
  };

  function show(result, detail, offline) {
    const panel = $("result");
    panel.className = `scan-result scan-result--${result === "ok" ? "ok" : "refused"}`;
    panel.dataset.result = result;
    panel.querySelector(".scan-result__icon").textContent = result === "ok" ? "✓" : "✗";
    $("result-title").textContent = TITLES[result] || result;
    $("result-detail").textContent = detail + (offline ? " (checked offline)" : "");
    if (navigator.vibrate) navigator.vibrate(result === "ok" ? 120 : [80, 60, 80]);
  }

  function describe(result, ticket, firstScanAt) {
    if (result === "already_redeemed" && firstScanAt) {
      return `First scanned at ${new Date(firstScanAt).toLocaleTimeString()}${ticket ? ` · ${ticket.seat_label}` : ""}`;
    }
    return ticket ? `${ticket.seat_label} · ${ticket.booking_reference}` : "Ask for the booking reference.";
  }

  function setCounts(checkedIn, sold) {
    $("count-checked-in").textContent = checkedIn;
    $("count-sold").textContent = sold;
  }

  function localCounts() {
    if (!snapshot) return;
    const statuses = Object.values(snapshot.status);
    setCounts(statuses.filter((s) => s === "checked_in").length, statuses.filter((s) => s !== "revoked").length);
  }

  async function refreshCounts() {
    const response = await fetch(root.dataset.counts, { credentials: "same-origin" });
    if (response.ok) {
      const counts = await response.json();
      setCounts(counts.checked_in, counts.sold);
    }
  }

  let lastSync = "";
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  async function showQueue() {
    const waiting = (await queued()).length;
    $("queue").textContent = waiting ? `${plural(waiting, "offline scan")} waiting to sync` : lastSync;
    root.dataset.queued = String(waiting);
  }

  function setConnection(online) {
    const connection = $("connection");
    connection.dataset.state = online ? "online" : "offline";
    connection.textContent = online ? "Online" : "Offline: checking tickets on this device";
  }

  // --- scanning ----------------------------------------------------------------------------------

  async function offlineVerdict(secret, type) {
    let bytes;
    try {
      bytes = unb64url(secret);
    } catch {
      return "unknown";
    }
    if (bytes.length !== SECRET_LENGTH || bytes[0] !== 1) return "unknown";
    // A secret names its event; another event's signature cannot be checked with this key.
    if (uuidOf(bytes.slice(17, 33)) !== eventId) return "wrong_event";
    if (!publicKey || !(await verify(publicKey, bytes.slice(SIGNED_LENGTH), bytes.slice(0, SIGNED_LENGTH)))) return "unknown";
    const status = snapshot.status[await fingerprint(secret)];
    if (status === "revoked") return "revoked";
    if (type === "exit") return "ok";
    // A genuine signature not in the snapshot yet is a ticket issued since: it is valid.
    return status === "checked_in" ? "already_redeemed" : "ok";
  }

  async function scanOffline(secret, type, nonce) {
    const result = await offlineVerdict(secret, type);
    const fp = await fingerprint(secret);
    if (result === "ok" && type === "entry") {
      snapshot.status[fp] = "checked_in";
      await store("snapshots", "readwrite", (s) => s.put(snapshot));
    }
    const scan = { nonce, event_id: eventId, secret, type, scanned_at: new Date().toISOString(), fingerprint: fp, local: result };
    await store("queue", "readwrite", (s) => s.put(scan));
    show(result, OFFLINE_DETAILS[result], true);
    localCounts();
    await showQueue();
  }

  async function scan(secret, type) {
    secret = secret.trim();
    if (!secret) return;
    const nonce = `${device}:${crypto.randomUUID()}`;
    if (navigator.onLine) {
      let response = null;
      try {
        response = await fetch(root.dataset.redeem, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
          body: JSON.stringify({ secret, event_id: eventId, nonce, type }),
        });
      } catch {
        setConnection(false);
      }
      if (response) {
        const body = await response.json().catch(() => ({}));
        if (!response.ok) {
          show("error", (body.error && body.error.message) || `The server answered ${response.status}.`, false);
          return;
        }
        show(body.result, describe(body.result, body.ticket, body.first_scan_at), false);
        // Remembered on the device too, so that this ticket reads as used if the network goes.
        if (snapshot && body.ticket && body.result === "ok" && type === "entry") {
          snapshot.status[await fingerprint(secret)] = "checked_in";
          await store("snapshots", "readwrite", (s) => s.put(snapshot));
        }
        refreshCounts().catch(() => localCounts());
        return;
      }
    }
    await scanOffline(secret, type, nonce);
  }

  let syncing = false;
  async function sync() {
    if (syncing || !navigator.onLine) return;
    syncing = true;
    try {
      const waiting = await queued();
      for (let start = 0; start < waiting.length; start += BATCH_LIMIT) {
        const chunk = waiting.slice(start, start + BATCH_LIMIT);
        const response = await fetch(root.dataset.batch, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrf },
          body: JSON.stringify({ scans: chunk.map(({ secret, nonce, scanned_at, type }) => ({ secret, nonce, scanned_at, type })) }),
        });
        if (!response.ok) throw new Error(`batch: ${response.status}`);
        await store("queue", "readwrite", (s) => chunk.forEach((item) => s.delete(item.nonce)));
        const { results } = await response.json();
        const admitted = results.filter((r) => r.result === "ok").length;
        lastSync = `Synced ${plural(results.length, "offline scan")}: ${admitted} admitted, ${results.length - admitted} refused.`;
      }
      setConnection(true);
      await refreshSnapshot();
      await refreshCounts();
    } catch {
      // Still offline or the server is unwell: the queue stays and the next round retries.
    } finally {
      syncing = false;
      await showQueue();
    }
  }

  // --- camera ------------------------------------------------------------------------------------

  function startCamera() {
    const section = $("camera");
    if (!("BarcodeDetector" in window) || !navigator.mediaDevices) return;
    section.hidden = false;
    const video = $("camera-view");
    const toggle = $("camera-toggle");
    let stream = null;
    let lastValue = "";
    let lastAt = 0;
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    async function tick() {
      if (!stream) return;
      try {
        const [code] = await detector.detect(video);
        // The same code in view keeps being detected: scan it once per few seconds.
        if (code && (code.rawValue !== lastValue || Date.now() - lastAt > 3000)) {
          lastValue = code.rawValue;
          lastAt = Date.now();
          await scan(code.rawValue, document.querySelector("input[name=type]:checked").value);
        }
      } catch {
        // A frame that could not be read: try the next one.
      }
      setTimeout(tick, 250);
    }
    toggle.addEventListener("click", async () => {
      if (stream) {
        stream.getTracks().forEach((track) => track.stop());
        stream = null;
        video.hidden = true;
        toggle.textContent = "Start camera";
        return;
      }
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      } catch {
        show("error", "The camera could not be opened; type the code instead.", false);
        return;
      }
      video.srcObject = stream;
      video.hidden = false;
      await video.play();
      toggle.textContent = "Stop camera";
      tick();
    });
  }

  // --- start -------------------------------------------------------------------------------------

  $("manual").addEventListener("submit", async (event) => {
    event.preventDefault();
    const field = $("ticket-code");
    await scan(field.value, new FormData(event.target).get("type"));
    field.value = "";
    field.focus();
  });
  window.addEventListener("online", () => {
    setConnection(true);
    sync();
  });
  window.addEventListener("offline", () => setConnection(false));

  (async () => {
    setConnection(navigator.onLine);
    startCamera();
    if ("serviceWorker" in navigator) {
      try {
        await navigator.serviceWorker.register(root.dataset.sw, { scope: root.dataset.scope });
        // A worker that fails to install never becomes ready: do not wait for it for ever.
        const ready = await Promise.race([
          navigator.serviceWorker.ready,
          new Promise((resolve) => setTimeout(() => resolve(null), 5000)),
        ]);
        // The page that registered the worker was loaded before it: keep a copy of it too.
        if (ready) await caches.open("ticketflow-checkin-v1").then((cache) => cache.add(location.href));
      } catch {
        // No service worker (private mode, an old browser): online scanning still works.
      }
    }
    await loadSnapshot();
    try {
      await refreshSnapshot();
    } catch {
      // Offline at start: the snapshot from the last visit is used as it is.
    }
    if (snapshot) localCounts();
    await showQueue();
    root.dataset.ready = snapshot ? "true" : "no-snapshot";
    sync();
    setInterval(sync, SYNC_EVERY_MS);
    $("ticket-code").focus();
  })();
})();
