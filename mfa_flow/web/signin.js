// The sign-in page: one flow, shown step by step until it ends.

import { $ } from "./common.js";
import { FlowUI } from "./flow-ui.js";

new FlowUI($("#flow")).start();
