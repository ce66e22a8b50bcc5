/* The waiting room: long-poll the queue API for your place; count the estimate down in between.
   Without JavaScript the page refreshes itself instead (a <noscript> refresh). */
(function () {
  "use strict";

  var room = document.getElementById("waiting-room");
  if (!room) return;
  if (room.dataset.status === "closed") {
    // A queue that is not open yet, or paused by a fault: look again shortly.
    setTimeout(function () { window.location.reload(); }, 10000);
    return;
  }
  if (room.dataset.status !== "waiting") return;
  var url = "/api/events/" + room.dataset.event + "/queue?wait=" + room.dataset.longPoll;
  var estimate = document.getElementById("queue-estimate");
  var position = document.getElementById("queue-position");
  var ahead = document.getElementById("queue-ahead");
  var progress = document.getElementById("queue-progress");
  var start = Math.max(1, parseInt(room.dataset.start, 10) || 1);
  var seconds = parseInt(estimate.dataset.seconds, 10) || 0;

  function wording(left) {
    if (left < 60) return "under a minute";
    var minutes = Math.round(left / 60);
    return "about " + minutes + " minute" + (minutes === 1 ? "" : "s");
  }

  function show(body) {
    if (body.status === "admitted" || body.status === "closed") {
      // The page keeps the token in the session and sends you on to the seat map.
      window.location.assign(room.dataset.admittedUrl);
      return false;
    }
    if (String(body.position) !== position.textContent) {
      position.textContent = body.position;
      ahead.textContent = body.position > 1 ? (body.position - 1) + (body.position === 2 ? " person is" : " people are") + " ahead of you." : "You\u2019re next.";
      start = Math.max(start, body.position);
      progress.max = start;
      progress.value = start - body.position;
      progress.textContent = progress.value + " of " + start;
    }
    seconds = body.estimated_wait_s || 0;
    estimate.textContent = wording(seconds);
    return true;
  }

  setInterval(function () {
    if (seconds > 0) {
      seconds -= 1;
      var text = wording(seconds);
      if (estimate.textContent !== text) estimate.textContent = text;
    }
  }, 1000);

  function poll(delay) {
    setTimeout(function () {
      // The queue pass lets the server answer a waiting buyer without Django (apps/waitingroom/fastpath.py).
      var headers = { Accept: "application/json" };
      if (room.dataset.queuePass) headers["X-Queue-Pass"] = room.dataset.queuePass;
      fetch(url, { headers: headers, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error("queue answered " + response.status);
          return response.json();
        })
        .then(function (body) { if (show(body)) poll(0); })
        .catch(function () { poll(Math.min(30000, (delay || 1000) * 2)); });
    }, delay);
  }
  poll(0);
})();
