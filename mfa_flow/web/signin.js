// The sign-in page: one flow, shown step by step until it ends. It is created when the person
// first submits the form, not when the page loads.

import { $ } from "./common.js";
import { FlowUI } from "./flow-ui.js";

new FlowUI($("#flow")).begin();
