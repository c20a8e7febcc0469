// sealpost in Firefox ESR (Debian's firefox-esr, puppeteer-core over WebDriver BiDi): the scenarios of
// engines/scenarios.js, with the module and the classic worker build. The new-worker-life rung runs in a
// second Firefox whose idle-timeout prefs stop an idle worker after a second.
import { engineSuite } from './engines/scenarios.js';
import { launchFirefox } from './engines/firefox.js';

engineSuite({
  engine: 'Firefox ESR',
  launch: () => launchFirefox(),
  launchForWorkerLife: () => launchFirefox({ workerIdleMs: 1000 }),
  builds: ['module', 'classic'],
  csp: true,
  notifications: true,
});
