// The sign-in page: one flow, shown step by step until it ends. It is created when the person
// first submits the form, not when the page loads. Opened by the OpenID Connect authorization
// endpoint (/?flow=<id>, the flow token in the fragment), it follows that flow instead and,
// once it has ended, sends the browser back to the app that asked.

import { $, ApiError, button, el, product, service } from "./common.js";
import { FlowUI, problemMessage } from "./flow-ui.js";
import { languagePicker, t, title } from "./i18n.js";

title("signin.page_title", { product });
$("header.brand").append(languagePicker(el));

const flowId = new URLSearchParams(location.search).get("flow");
if (flowId) signInForApp(flowId);
else new FlowUI($("#flow")).begin();

async function signInForApp(id) {
  const root = $("#flow");
  const key = `mfa-flow.authorization.${id}`;
  // The token arrives once, in the fragment (never sent to any server); the tab keeps it, so a
  // reload still works, and the address bar no longer shows it.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("flow_token")) {
    sessionStorage.setItem(key, fragment.get("flow_token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  const token = sessionStorage.getItem(key);
  if (!token) {
    message(root, t("app.elsewhere_title"), t("app.elsewhere_lead"));
    return;
  }
  let authorization;
  let session;
  try {
    authorization = await service.authorizations.get(id, { token });
    session = await service.flows.resume(id, token);
  } catch (error) {
    message(root, t("app.failed_title"), error instanceof ApiError ? problemMessage(error) : t("app.no_answer"));
    return;
  }
  const app = authorization.client_name;
  document.body.dataset.client = authorization.client_id;
  // The app's name in bold inside the sentence, wherever the locale puts it.
  const [before, after = ""] = t("app.for").split("{app}");
  root.before(el("p", { class: "for-app", id: "for-app" }, before, el("strong", {}, app), after));
  const back = function view() {
    return { title: t("app.returning", { app }), lead: t("app.one_moment"), body: [] };
  };
  const ui = new FlowUI(root, {
    cancelAtStart: true,
    savedKey: `mfa-flow.flow.authorization.${id}`,  // never resumed by the plain sign-in page
    views: { done: back, failed: back, expired: back, cancelled: back },
    onFinished: () => returnToApp(root, id, token, key, app),
  });
  await ui.ready; // whether passkeys can be offered in the username field's autofill
  ui.adopt(session);
}

async function returnToApp(root, id, token, key, app) {
  try {
    const { redirect_to: target } = await service.authorizations.returnToClient(id, { token });
    sessionStorage.removeItem(key);
    location.assign(target);
  } catch (error) {
    if (error instanceof ApiError && error.kind === "authorization-complete") {
      message(root, t("done.title"), t("app.complete", { app }));
    } else {
      message(root, t("app.return_failed", { app }), t("app.check_connection"),
        button(t("action.try_again"), () => returnToApp(root, id, token, key, app)));
    }
  }
}

function message(root, title, lead, ...actions) {
  root.replaceChildren(el("h1", { tabindex: "-1" }, title), el("p", { class: "lead", role: "status" }, lead), ...actions);
}
