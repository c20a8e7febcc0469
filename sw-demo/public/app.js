import { ready } from '/sealpost/js/index.js';

const status = document.getElementById('status');
ready().then(
  () => { status.textContent = 'sealpost is ready.'; },
  (error) => { status.textContent = `sealpost could not load: ${error.code ?? error.message}`; },
);
