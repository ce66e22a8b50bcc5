/* TicketFlow seat map: draws the event's seats, lets the buyer pick some, keeps states live.
 *
 * The page embeds the plan once (sections -> rows -> [id, number, category, price?]) and a
 * string of one state letter per seat (a = available, h = held, s = sold, y = yours). Every
 * few seconds the script fetches that string again and repaints only the seats whose letter
 * changed, so a 6,000-seat arena stays responsive and the buyer's selection is never lost.
 *
 * Accessibility: every seat is a <button aria-pressed> whose label reads like
 * "Stalls row A seat 12, £42.00, available". The map is one tab stop (roving tabindex);
 * arrow keys move between seats, Home/End to the ends of a row. Changes the buyer did not
 * make (a selected seat taken by someone else) are announced in a polite live region.
 */
(function () {
  "use strict";

  var root = document.getElementById("seatmap");
  var planNode = document.getElementById("seat-plan");
  if (!root || !planNode) return;

  var plan = JSON.parse(planNode.textContent);
  var eventId = root.dataset.event;
  var readonly = root.dataset.readonly === "true";
  var refreshMs = Math.max(1, Number(root.dataset.refresh || 3)) * 1000;
  var storageKey = "tf:seats:" + eventId;
  var money = new Intl.NumberFormat("en-GB", { style: "currency", currency: plan.currency });
  var STATE_WORDS = { a: "available", h: "held by another buyer", s: "sold", y: "yours" };

  var announcer = document.getElementById("seatmap-announcer");
  var list = document.getElementById("selection-list");
  var inputs = document.getElementById("selection-inputs");
  var totalNode = document.getElementById("selection-total");
  var countNode = document.getElementById("selection-count");
  var emptyNode = document.getElementById("selection-empty");
  var button = document.getElementById("checkout-button");
  var availableNode = document.getElementById("available-count");
  var summary = document.querySelector(".summary");

  var seats = [];        // index -> seat record
  var byId = new Map();  // id -> seat record
  var rows = [];         // row index -> array of seat records
  var selected = new Map();
  var current = null;    // the seat holding the map's single tab stop

  // --- drawing -----------------------------------------------------------------------------

  function draw() {
    var fragment = document.createDocumentFragment();
    var states = plan.states;
    var large = states.length > 1500;
    root.style.setProperty("--seat", (large ? 10 : 24) + "px");
    if (large) root.classList.add("seatmap--large");

    plan.sections.forEach(function (section, sectionIndex) {
      var block = document.createElement("section");
      block.className = "seat-section";
      var headingId = "seat-section-" + sectionIndex;
      block.setAttribute("aria-labelledby", headingId);
      var heading = document.createElement("h3");
      heading.id = headingId;
      heading.className = "seat-section__name";
      heading.textContent = section.name;
      block.appendChild(heading);

      section.rows.forEach(function (row) {
        var line = document.createElement("div");
        line.className = "seat-row";
        line.setAttribute("role", "group");
        line.setAttribute("aria-label", section.name + " row " + row.label);
        line.appendChild(rowLabel(row.label));
        var rowSeats = [];
        row.seats.forEach(function (entry) {
          var category = entry[2];
          var cents = entry.length > 3 ? entry[3] : plan.categories[category].cents;
          var seat = {
            index: seats.length,
            row: rows.length,
            id: entry[0],
            number: entry[1],
            section: section.name,
            rowLabel: row.label,
            category: category,
            cents: cents,
            state: states.charAt(seats.length) || "s",
            el: document.createElement("button"),
          };
          seat.name = section.name + " row " + row.label + " seat " + seat.number;
          var el = seat.el;
          el.type = "button";
          el.className = "seat c" + category;
          el.tabIndex = -1;
          el.dataset.i = seat.index;
          el.dataset.seatId = seat.id;
          el.setAttribute("aria-pressed", "false");
          paint(seat);
          line.appendChild(el);
          seats.push(seat);
          byId.set(seat.id, seat);
          rowSeats.push(seat);
        });
        line.appendChild(rowLabel(row.label));
        rows.push(rowSeats);
        block.appendChild(line);
      });
      fragment.appendChild(block);
    });
    root.appendChild(fragment);
  }

  function rowLabel(text) {
    var label = document.createElement("span");
    label.className = "row-label";
    label.setAttribute("aria-hidden", "true");
    label.textContent = text;
    return label;
  }

  function paint(seat) {
    var el = seat.el;
    var isSelected = selected.has(seat.id);
    el.dataset.state = seat.state;
    el.setAttribute("aria-pressed", isSelected ? "true" : "false");
    el.classList.toggle("is-selected", isSelected);
    var word = isSelected ? "selected" : STATE_WORDS[seat.state];
    el.setAttribute("aria-label", seat.name + ", " + money.format(seat.cents / 100) + ", " + word);
    if (seat.state === "a" && !readonly) el.removeAttribute("aria-disabled");
    else el.setAttribute("aria-disabled", "true");
  }

  // --- selection ---------------------------------------------------------------------------

  var announceTimer = null;
  function announce(message) {
    if (!announcer) return;
    clearTimeout(announceTimer);
    announcer.textContent = "";
    // A fresh text node after a tick makes screen readers speak repeated messages too.
    announceTimer = setTimeout(function () { announcer.textContent = message; }, 60);
  }

  function toggle(seat) {
    if (readonly) {
      announce("Tickets for this event are not on sale.");
      return;
    }
    if (selected.has(seat.id)) {
      selected.delete(seat.id);
      paint(seat);
      summarise(seat.name + " removed.");
      return;
    }
    if (seat.state !== "a") {
      announce(seat.name + " is " + STATE_WORDS[seat.state] + ".");
      return;
    }
    if (selected.size >= plan.max) {
      announce("You can choose up to " + plan.max + " seats for this event. Remove one to pick another.");
      if (summary) {
        summary.classList.remove("is-shaking");
        void summary.offsetWidth;
        summary.classList.add("is-shaking");
      }
      return;
    }
    selected.set(seat.id, seat);
    paint(seat);
    summarise(seat.name + " selected.");
  }

  function summarise(change) {
    var total = 0;
    list.textContent = "";
    inputs.textContent = "";
    selected.forEach(function (seat) {
      total += seat.cents;
      var item = document.createElement("li");
      item.className = "selection__item";
      var swatch = document.createElement("span");
      swatch.className = "swatch seat-swatch c" + seat.category;
      swatch.setAttribute("aria-hidden", "true");
      var text = document.createElement("span");
      text.className = "selection__name";
      var strong = document.createElement("strong");
      strong.textContent = seat.section;
      text.appendChild(strong);
      text.appendChild(document.createTextNode(" Row " + seat.rowLabel + ", seat " + seat.number));
      var price = document.createElement("span");
      price.className = "selection__price";
      price.textContent = money.format(seat.cents / 100);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "icon-button icon-button--small";
      remove.dataset.remove = seat.id;
      remove.setAttribute("aria-label", "Remove " + seat.name);
      remove.textContent = "×";
      item.append(swatch, text, price, remove);
      list.appendChild(item);
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "seat";
      input.value = seat.id;
      inputs.appendChild(input);
    });
    var count = selected.size;
    totalNode.textContent = money.format(total / 100);
    countNode.textContent = count + " of " + plan.max;
    emptyNode.hidden = count > 0;
    button.disabled = count === 0 || readonly;
    button.textContent = count ? "Continue with " + count + " seat" + (count === 1 ? "" : "s") : "Continue to checkout";
    try {
      sessionStorage.setItem(storageKey, JSON.stringify(Array.from(selected.keys())));
    } catch (error) { /* private mode: the selection just is not remembered */ }
    if (change) {
      announce(change + " " + count + " seat" + (count === 1 ? "" : "s") + " selected, total " + money.format(total / 100) + ".");
    }
  }

  // Seats asked for (a "try again" link, or a reload) that are held right now: a released hold
  // often shows up a moment later, so they are taken into the selection if they come back soon.
  var awaiting = new Set();
  var AWAIT_MS = 15000;

  function restore() {
    var wanted = (root.dataset.preselect || "").split(",").filter(Boolean);
    if (!wanted.length) {
      try { wanted = JSON.parse(sessionStorage.getItem(storageKey) || "[]"); } catch (error) { wanted = []; }
    }
    var lost = [];
    wanted.forEach(function (id) {
      var seat = byId.get(id);
      if (!seat || readonly) return;
      if (seat.state === "a" && selected.size < plan.max) {
        selected.set(id, seat);
        paint(seat);
      } else if (seat.state === "h") {
        awaiting.add(id);
      } else if (seat.state !== "y") {
        lost.push(seat.name);
      }
    });
    summarise(null);
    if (awaiting.size) {
      setTimeout(refresh, 1000);
      setTimeout(function () {
        var still = Array.from(awaiting).map(function (id) { return byId.get(id).name; });
        awaiting.clear();
        if (still.length) tellLost(still);
      }, AWAIT_MS);
    }
    if (lost.length) tellLost(lost);
  }

  function tellLost(names) {
    var text = "Sorry, " + names.join(", ") + (names.length === 1 ? " is" : " are") + " no longer available. Please choose other seats.";
    announce(text);
    var notice = document.createElement("p");
    notice.className = "notice notice--warning";
    notice.setAttribute("role", "alert");
    notice.textContent = text;
    list.parentNode.insertBefore(notice, list);
  }

  // --- keyboard ----------------------------------------------------------------------------

  function focusSeat(seat) {
    if (!seat) return;
    if (current && current !== seat) current.el.tabIndex = -1;
    current = seat;
    seat.el.tabIndex = 0;
    seat.el.focus({ preventScroll: false });
  }

  function nearestIn(rowSeats, x) {
    var best = rowSeats[0];
    var distance = Infinity;
    rowSeats.forEach(function (seat) {
      var box = seat.el.getBoundingClientRect();
      var d = Math.abs(box.left + box.width / 2 - x);
      if (d < distance) { distance = d; best = seat; }
    });
    return best;
  }

  root.addEventListener("keydown", function (event) {
    var el = event.target.closest(".seat");
    if (!el) return;
    var seat = seats[Number(el.dataset.i)];
    var rowSeats = rows[seat.row];
    var position = rowSeats.indexOf(seat);
    var next = null;
    switch (event.key) {
      case "ArrowLeft": next = rowSeats[position - 1] || seats[seat.index - 1]; break;
      case "ArrowRight": next = rowSeats[position + 1] || seats[seat.index + 1]; break;
      case "Home": next = rowSeats[0]; break;
      case "End": next = rowSeats[rowSeats.length - 1]; break;
      case "ArrowUp":
      case "ArrowDown": {
        var target = rows[seat.row + (event.key === "ArrowUp" ? -1 : 1)];
        if (target) {
          var box = el.getBoundingClientRect();
          next = nearestIn(target, box.left + box.width / 2);
        }
        break;
      }
      default: return;
    }
    event.preventDefault();
    focusSeat(next);
  });

  root.addEventListener("click", function (event) {
    var el = event.target.closest(".seat");
    if (!el) return;
    var seat = seats[Number(el.dataset.i)];
    if (current !== seat) {
      if (current) current.el.tabIndex = -1;
      current = seat;
      seat.el.tabIndex = 0;
    }
    toggle(seat);
  });

  list.addEventListener("click", function (event) {
    var remove = event.target.closest("[data-remove]");
    if (!remove) return;
    var seat = byId.get(remove.dataset.remove);
    if (!seat) return;
    selected.delete(seat.id);
    paint(seat);
    summarise(seat.name + " removed.");
    (list.querySelector("[data-remove]") || button).focus();
  });

  document.querySelectorAll("[data-zoom]").forEach(function (control) {
    control.addEventListener("click", function () {
      var size = parseFloat(getComputedStyle(root).getPropertyValue("--seat")) || 24;
      size = Math.min(36, Math.max(8, size + Number(control.dataset.zoom) * (size < 16 ? 3 : 4)));
      root.style.setProperty("--seat", size + "px");
      root.classList.toggle("seatmap--large", size < 16);
    });
  });

  // --- live states -------------------------------------------------------------------------

  var refreshing = false;
  function refresh() {
    if (refreshing || document.hidden) return;
    refreshing = true;
    fetch(root.dataset.statesUrl, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || typeof data.states !== "string" || data.states.length !== seats.length) return;
        apply(data.states);
        if (availableNode && typeof data.available === "number") availableNode.textContent = data.available;
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ })
      .then(function () { refreshing = false; });
  }

  function apply(states) {
    var lost = [];
    var back = [];
    for (var i = 0; i < seats.length; i++) {
      var state = states.charAt(i);
      var seat = seats[i];
      if (seat.state === state) continue;
      seat.state = state;
      if (state !== "a" && selected.has(seat.id)) {
        selected.delete(seat.id);
        if (state !== "y") lost.push(seat.name);
      } else if (state === "a" && awaiting.has(seat.id) && selected.size < plan.max) {
        awaiting.delete(seat.id);
        selected.set(seat.id, seat);
        back.push(seat.name);
      }
      paint(seat);
    }
    plan.states = states;
    if (lost.length) {
      summarise(null);
      announce("Sorry, " + lost.join(", ") + (lost.length === 1 ? " was" : " were") + " just taken by someone else and removed from your selection.");
    } else if (back.length) {
      summarise(back.join(", ") + (back.length === 1 ? " is" : " are") + " free again and in your selection.");
    }
  }

  draw();
  restore();
  var first = seats.find(function (seat) { return selected.has(seat.id); }) ||
    seats.find(function (seat) { return seat.state === "a"; }) || seats[0];
  if (first) { current = first; first.el.tabIndex = 0; }
  root.dataset.ready = "true";
  if (window.performance && performance.mark) performance.mark("seatmap-ready");

  setInterval(refresh, refreshMs);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  window.addEventListener("pageshow", function (event) { if (event.persisted) refresh(); });
})();
