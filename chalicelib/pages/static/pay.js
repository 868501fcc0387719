/* Fieldline's card form: Stripe.js's card Element on the tenant's connected account, for the
 * invoice page (pay: confirmCardPayment) and the card-on-file page (save: confirmCardSetup, when
 * the form says data-intent="setup"). Everything it needs is in the form's data- attributes: the
 * page's Content-Security-Policy allows no inline script. After Stripe confirms a payment the
 * page reloads; the server shows "on its way" (and refreshes) until Stripe's webhook marks the
 * invoice paid. A saved card is said so at once; Stripe's webhook puts it on file.
 */
(function () {
  'use strict';
  var form = document.getElementById('pay-form');
  if (!form || typeof window.Stripe !== 'function') {
    return;
  }
  var data = form.dataset;
  var saving = data.intent === 'setup';
  var stripe = data.account
    ? window.Stripe(data.key, {stripeAccount: data.account})
    : window.Stripe(data.key);
  var card = stripe.elements().create('card');
  card.mount('#card-element');
  form.hidden = false;

  var button = document.getElementById('pay-button');
  var errors = document.getElementById('card-errors');
  var status = document.getElementById('pay-status');
  var bank = document.getElementById('bank');

  function done(what) {
    form.hidden = true;
    if (saving) {
      if (bank) {
        bank.hidden = true;
      }
      status.textContent = 'Your ' + what + ' is saved. Thank you!';
      return;
    }
    status.textContent = 'Payment received. Confirming it\u2026';
    window.location.reload();
  }

  function failed(target, control, error) {
    var fallback = saving ? 'The card could not be saved.' : 'The payment did not go through.';
    target.textContent = (error && error.message) || fallback;
    control.disabled = false;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = '';
    var confirm = saving ? stripe.confirmCardSetup : stripe.confirmCardPayment;
    confirm
      .call(stripe, data.clientSecret, {payment_method: {card: card}})
      .then(function (result) {
        if (result.error) {
          failed(errors, button, result.error);
        } else {
          done('card');
        }
      })
      .catch(function (error) {
        failed(errors, button, error);
      });
  });

  // A US bank account (ACH debit) through Financial Connections: only Stripe's own Stripe.js
  // has it, so the page renders this section only when it loads that script. Confirming
  // records the customer's mandate.
  var collect = saving ? stripe.collectBankAccountForSetup : stripe.collectBankAccountForPayment;
  if (!bank || typeof collect !== 'function') {
    return;
  }
  bank.hidden = false;
  var bankButton = document.getElementById('bank-button');
  var bankErrors = document.getElementById('bank-errors');
  bankButton.addEventListener('click', function () {
    var name = document.getElementById('bank-name').value.trim();
    var email = document.getElementById('bank-email').value.trim();
    if (!name || !email) {
      bankErrors.textContent = 'Enter the account holder\u2019s name and an email address.';
      return;
    }
    bankButton.disabled = true;
    bankErrors.textContent = '';
    collect
      .call(stripe, {
        clientSecret: data.clientSecret,
        params: {
          payment_method_type: 'us_bank_account',
          payment_method_data: {billing_details: {name: name, email: email}},
        },
      })
      .then(function (result) {
        if (result.error) {
          return failed(bankErrors, bankButton, result.error);
        }
        var intent = saving ? result.setupIntent : result.paymentIntent;
        if (intent.status !== 'requires_confirmation') {
          return failed(bankErrors, bankButton, {message: 'No bank account was linked.'});
        }
        var confirmBank = saving
          ? stripe.confirmUsBankAccountSetup
          : stripe.confirmUsBankAccountPayment;
        return confirmBank.call(stripe, data.clientSecret).then(function (confirmed) {
          if (confirmed.error) {
            failed(bankErrors, bankButton, confirmed.error);
          } else {
            done('bank account');
          }
        });
      })
      .catch(function (error) {
        failed(bankErrors, bankButton, error);
      });
  });
})();
