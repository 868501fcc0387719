/* Local stage only: makes localstripe's Stripe.js stand-in pay with the card typed into it.
 *
 * The stand-in (localstripe 1.15, served at /js.stripe.com/v3/) renders plain inputs for the
 * card Element, but its confirmCardPayment never reads them: it only completes 3-D Secure on an
 * intent that already has a card. With the real Stripe.js, Stripe's servers attach the card and
 * confirm; localstripe lets only a secret key do that. So confirmCardPayment here posts the
 * Element's card to the local stage (data-confirm-url), which does it with its key, and falls
 * back to the stand-in's own 3-D Secure dialog when the card asks for it.
 *
 * Loaded after the stand-in and before pay.js; never on a page that loads Stripe's Stripe.js.
 */
(function () {
  'use strict';
  var standIn = window.Stripe;
  var confirmUrl = document.currentScript.dataset.confirmUrl;
  if (typeof standIn !== 'function' || !confirmUrl) {
    return;
  }

  function cardOf(data) {
    var element = data && data.payment_method && data.payment_method.card;
    var value = element && element.value;
    return value && value.card;
  }

  // Posts the Element's card to the local stage, which attaches it and confirms the intent
  // (`paymentIntent`) or SetupIntent (`setupIntent`, the card-on-file page); the stand-in's own
  // method runs the 3-D Secure dialog when the card asks for it.
  function confirmWithCard(clientSecret, data, authenticate, what) {
    var card = cardOf(data);
    if (!card || !card.number) {
      return Promise.resolve({error: {message: 'Enter your card number.'}});
    }
    return fetch(confirmUrl, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({
        client_secret: clientSecret,
        card: {
          number: card.number,
          exp_month: card.exp_month,
          exp_year: card.exp_year,
          cvc: card.cvc,
        },
      }),
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return {ok: response.ok, body: body};
        });
      })
      .then(function (answer) {
        var body = answer.body || {};
        if (!answer.ok) {
          return {error: {message: (body.error && body.error.message) || 'The card was refused.'}};
        }
        if (body.status === 'requires_action') {
          return authenticate(clientSecret, data);
        }
        if (body.status === 'succeeded' || body.status === 'processing') {
          var result = {};
          result[what] = body;
          return result;
        }
        return {error: {message: body.last_payment_error || 'The card was declined.'}};
      });
  }

  window.Stripe = function (key, options) {
    var stripe = standIn(key, options);
    var authenticatePayment = stripe.confirmCardPayment;
    var authenticateSetup = stripe.confirmCardSetup;
    stripe.confirmCardPayment = function (clientSecret, data) {
      return confirmWithCard(clientSecret, data, authenticatePayment, 'paymentIntent');
    };
    stripe.confirmCardSetup = function (clientSecret, data) {
      return confirmWithCard(clientSecret, data, authenticateSetup, 'setupIntent');
    };
    return stripe;
  };
})();
