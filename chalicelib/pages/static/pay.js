/* Fieldline's pay form: Stripe.js's card Element and confirmCardPayment, on the tenant's
 * connected account. Everything it needs is in the form's data- attributes: the page's
 * Content-Security-Policy allows no inline script. After Stripe confirms, the page reloads;
 * the server shows "on its way" (and refreshes) until Stripe's webhook marks the invoice paid.
 */
(function () {
  'use strict';
  var form = document.getElementById('pay-form');
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

  var button = document.getElementById('pay-button');
  var errors = document.getElementById('card-errors');
  var status = document.getElementById('pay-status');

  function paid() {
    form.hidden = true;
    status.textContent = 'Payment received. Confirming it\u2026';
    window.location.reload();
  }

  function failed(target, control, error) {
    target.textContent = (error && error.message) || 'The payment did not go through.';
    control.disabled = false;
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    button.disabled = true;
    errors.textContent = '';
    stripe
      .confirmCardPayment(data.clientSecret, {payment_method: {card: card}})
      .then(function (result) {
        if (result.error) {
          failed(errors, button, result.error);
        } else {
          paid();
        }
      })
      .catch(function (error) {
        failed(errors, button, error);
      });
  });

  // A US bank account (ACH debit) through Financial Connections: only Stripe's own Stripe.js
  // has it, so the page renders this section only when it loads that script.
  var bank = document.getElementById('bank');
  if (!bank || typeof stripe.collectBankAccountForPayment !== 'function') {
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
      .collectBankAccountForPayment({
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
        if (result.paymentIntent.status !== 'requires_confirmation') {
          return failed(bankErrors, bankButton, {message: 'No bank account was linked.'});
        }
        return stripe.confirmUsBankAccountPayment(data.clientSecret).then(function (confirmed) {
          if (confirmed.error) {
            failed(bankErrors, bankButton, confirmed.error);
          } else {
            paid();
          }
        });
      })
      .catch(function (error) {
        failed(bankErrors, bankButton, error);
      });
  });
})();
