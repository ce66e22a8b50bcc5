/* TicketFlow checkout, with Stripe when the shop charges through it.
 *
 * On the checkout page: forget the seat map's remembered selection once the order is sent,
 * and turn the card typed into Stripe Elements into a PaymentMethod whose id is what the
 * form submits (card numbers never reach this site).
 *
 * On the booking page: a payment waiting for 3-D Secure carries its client secret
 * ([data-payment-action]); Stripe.js's handleNextAction shows the bank's check, then the
 * server is asked to look at the PaymentIntent at once (POST .../refresh) rather than wait
 * for Stripe's webhook. The live status part, swapped in by htmx, shows the outcome. */
(function () {
  "use strict";

  var clients = {};
  function stripeFor(key) {
    if (!clients[key]) clients[key] = window.Stripe(key);
    return clients[key];
  }

  function checkout() {
    var form = document.getElementById("checkout-form");
    if (!form) return;

    form.addEventListener("submit", function () {
      try { sessionStorage.removeItem("tf:seats:" + form.dataset.event); } catch (error) { /* ignore */ }
    });

    var key = form.dataset.stripeKey;
    if (!key || typeof window.Stripe !== "function") return;

    var stripe = stripeFor(key);
    var card = stripe.elements().create("card", { hidePostalCode: true });
    card.mount("#card-element");
    var errors = document.getElementById("card-errors");
    var field = form.querySelector("input[name=payment_method]");
    var pay = document.getElementById("pay-button");
    card.on("change", function (event) { errors.textContent = event.error ? event.error.message : ""; });

    form.addEventListener("submit", function (event) {
      if (field.value) return; // the PaymentMethod exists: let the form go
      event.preventDefault();
      event.stopImmediatePropagation();
      pay.disabled = true;
      stripe.createPaymentMethod({
        type: "card",
        card: card,
        billing_details: { name: form.dataset.name || undefined, email: form.dataset.email || undefined },
      }).then(function (result) {
        if (result.error) {
          errors.textContent = result.error.message;
          pay.disabled = false;
          return;
        }
        field.value = result.paymentMethod.id;
        pay.disabled = false;
        form.requestSubmit(pay);
      });
    }, true);
  }

  // Client secrets whose action this page already started: each htmx swap renders the box
  // again, and the bank's check must open once on its own (the button opens it again).
  var started = {};

  function nextAction() {
    var box = document.querySelector("[data-payment-action]");
    if (!box || box.dataset.bound === "true") return;
    box.dataset.bound = "true";
    var secret = box.dataset.clientSecret;
    var button = document.getElementById("payment-action-button");
    var error = document.getElementById("payment-action-error");
    if (box.dataset.paymentAction === "redirect_to_url" || !secret) return; // a plain link
    if (typeof window.Stripe !== "function") {
      error.textContent = "The secure payment window could not load. Check your connection and reload this page.";
      return;
    }

    function refresh() {
      return fetch(box.dataset.refreshUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": box.dataset.csrf, Accept: "application/json" },
      }).catch(function () { /* the webhook and the long poll still bring the outcome */ });
    }

    function run() {
      button.disabled = true;
      error.textContent = "";
      stripeFor(box.dataset.stripeKey).handleNextAction({ clientSecret: secret }).then(function (result) {
        if (result.error) error.textContent = result.error.message;
        return refresh();
      }).then(function () {
        button.disabled = false;
      });
    }

    button.addEventListener("click", run);
    if (!started[secret]) {
      started[secret] = true;
      run();
    }
  }

  checkout();
  nextAction();
  document.addEventListener("htmx:afterSwap", nextAction);
})();
