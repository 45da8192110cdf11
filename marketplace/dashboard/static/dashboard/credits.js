// Buying credits: Stripe.js collects the card (a SetupIntent), the server charges it.
(function () {
  const form = document.getElementById("buy-form");
  if (!form) return;
  const stripe = Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");
  const result = document.getElementById("pay-result");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  async function post(url, fields) {
    const body = new URLSearchParams(fields);
    const response = await fetch(url, {
      method: "POST", body, headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error ? data.error.message : "Request failed");
    return data;
  }

  async function showQuote() {
    try {
      const quote = await post(form.dataset.quoteUrl, { amount_usd: form.amount_usd.value });
      document.getElementById("quote").textContent =
        `Credits ${quote.credits} + platform fee ${quote.fee} = ${quote.total} charged`;
    } catch (error) {
      document.getElementById("quote").textContent = error.message;
    }
  }
  form.amount_usd.addEventListener("change", showQuote);
  showQuote();

  async function waitForPurchase(id) {
    for (let i = 0; i < 30; i++) {
      const response = await fetch(`${form.dataset.statusUrl}${id}`, { credentials: "same-origin" });
      const data = await response.json();
      if (data.status !== "created") return data;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return { status: "created", message: "Still processing: this page will show it soon." };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = document.getElementById("pay-button");
    button.disabled = true;
    result.textContent = "Processing…";
    try {
      const setup = await post(form.dataset.setupUrl, {});
      const confirmed = await stripe.confirmCardSetup(setup.client_secret, { payment_method: { card } });
      if (confirmed.error) throw new Error(confirmed.error.message);
      const method = confirmed.setupIntent.payment_method;
      let paid = await post(form.dataset.payUrl, {
        amount_usd: form.amount_usd.value,
        payment_method: typeof method === "string" ? method : method.id,
        save_card: form.save_card.checked ? "on" : "",
      });
      if (paid.action_client_secret) {
        const authenticated = await stripe.confirmCardPayment(paid.action_client_secret);
        if (authenticated.error) throw new Error(authenticated.error.message);
        paid = await waitForPurchase(paid.purchase);
      }
      if (paid.status === "succeeded") {
        result.textContent = "Payment succeeded: your credits are in your balance.";
        setTimeout(() => window.location.reload(), 800);
      } else {
        throw new Error(paid.message || "The payment did not go through");
      }
    } catch (error) {
      result.textContent = `Payment failed: ${error.message}`;
      button.disabled = false;
    }
  });
})();
