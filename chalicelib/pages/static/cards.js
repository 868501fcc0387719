/* Fieldline's card-on-file form: Stripe.js's card Element and confirmCardSetup, on the
 * business's connected account. Everything it needs is in the form's data- attributes (the
 * page's Content-Security-Policy allows no inline script). Once Stripe confirms, the card is
 * saved; Stripe's webhook puts it on file, and the page lists it when reloaded.
 */
(function () {
  'use strict';
  var form = document.getElementById('card-form');
  if (!form || typeof window.Stripe !== 'function') {
    return;
  }
  var data = form.dataset;
  var stripe = data.account
    ? window.Stripe(data.key, {stripeAccount: data.account})
    : window.Stripe(data.key);
  var card = stripe.elements().create('card');
  card.mount('#card-element');
  form.hidden = false;

  var button = document.getElementById('save-button');
  var errors = document.getElementById('card-errors');
  var status = document.getElementById('save-status');

  function saved(what) {
    form.hidden = true;
    var bank = document.getElementById('bank');
    if (bank) {
      bank.hidden = true;
    }
    status.textContent = 'Your ' + what + ' is saved. Thank you!';
  }

  function failed(target, control, error) {
    target.textContent = (error && error.message) || 'The card could not be saved.';
    control.disabled = false;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = '';
    stripe
      .confirmCardSetup(data.clientSecret, {payment_method: {card: card}})
      .then(function (result) {
        if (result.error) {
          failed(errors, button, result.error);
        } else {
          saved('card');
        }
      })
      .catch(function (error) {
        failed(errors, button, error);
      });
  });

  // A US bank account (ACH debit) through Financial Connections: only Stripe's own Stripe.js
  // has it; confirmUsBankAccountSetup records the customer's mandate.
  var bank = document.getElementById('bank');
  if (!bank || typeof stripe.collectBankAccountForSetup !== 'function') {
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
    stripe
      .collectBankAccountForSetup({
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
        if (result.setupIntent.status !== 'requires_confirmation') {
          return failed(bankErrors, bankButton, {message: 'No bank account was linked.'});
        }
        return stripe.confirmUsBankAccountSetup(data.clientSecret).then(function (confirmed) {
          if (confirmed.error) {
            failed(bankErrors, bankButton, confirmed.error);
          } else {
            saved('bank account');
          }
        });
      })
      .catch(function (error) {
        failed(bankErrors, bankButton, error);
      });
  });
})();
