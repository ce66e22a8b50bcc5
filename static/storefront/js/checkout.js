/* TicketFlow checkout: forget the seat map's remembered selection once the order is sent, and,
 * when the shop charges through Stripe, turn the card typed into Stripe Elements into a
 * PaymentMethod whose id is what the form submits (card numbers never reach this site). */
(function () {
  "use strict";

  var form = document.getElementById("checkout-form");
  if (!form) return;

  form.addEventListener("submit", function () {
    try { sessionStorage.removeItem("tf:seats:" + form.dataset.event); } catch (error) { /* ignore */ }
  });

  var key = form.dataset.stripeKey;
  if (!key || typeof window.Stripe !== "function") return;

  var stripe = window.Stripe(key);
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
})();
