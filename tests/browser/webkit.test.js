// sealpost in WebKitGTK (Debian's webkit2gtk-driver: WebKitWebDriver and MiniBrowser, under xvfb-run,
// driven by selenium-webdriver): the scenarios of engines/scenarios.js, with the module and the classic
// worker build. WebKit does not enforce CSP on Wasm compilation, and refuses showNotification under
// automation: the demo's CSP is checked in Firefox and Chromium, and push here ends display-failed.
import { engineSuite } from './engines/scenarios.js';
import { launchWebKit } from './engines/webkit.js';

engineSuite({
  engine: 'WebKit',
  launch: () => launchWebKit(),
  builds: ['module', 'classic'],
  csp: false,
  notifications: false,
});
