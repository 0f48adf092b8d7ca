// The User Activity View's router: one page per path, history navigation, deep links.
import { api, failure, navigate, show } from './dom.js';
import { searchPage } from './search.js';
import { personPage } from './person.js';
import { livePage } from './live.js';
import { setupPage } from './setup.js';
import { audienceBuilderPage, audiencePage, audiencesPage } from './audiences.js';
import { calculatedAttributeBuilderPage, calculatedAttributePage, calculatedAttributesPage } from './calculated.js';
import { connectionsPage } from './connections.js';
import { privacyPage } from './privacy.js';
import { catalogPage } from './catalog.js';

const main = document.getElementById('main');
let leaveCurrentPage = () => {};

const routes = [
  { pattern: /^\/ui\/?$/, nav: 'search', page: () => searchPage(main) },
  { pattern: /^\/ui\/people\/(-?\d+)$/, nav: 'search', page: (mpid) => personPage(main, mpid) },
  { pattern: /^\/ui\/live$/, nav: 'live', page: () => livePage(main) },
  { pattern: /^\/ui\/setup$/, nav: 'setup', page: () => setupPage(main) },
  { pattern: /^\/ui\/audiences\/?$/, nav: 'audiences', page: () => audiencesPage(main) },
  { pattern: /^\/ui\/audiences\/new$/, nav: 'audiences', page: () => audienceBuilderPage(main) },
  { pattern: /^\/ui\/audiences\/(\d+)$/, nav: 'audiences', page: (id) => audiencePage(main, id) },
  { pattern: /^\/ui\/audiences\/(\d+)\/edit$/, nav: 'audiences', page: (id) => audienceBuilderPage(main, id) },
  { pattern: /^\/ui\/calculated-attributes\/?$/, nav: 'calculated-attributes', page: () => calculatedAttributesPage(main) },
  { pattern: /^\/ui\/calculated-attributes\/new$/, nav: 'calculated-attributes', page: () => calculatedAttributeBuilderPage(main) },
  { pattern: /^\/ui\/calculated-attributes\/(\d+)$/, nav: 'calculated-attributes', page: (id) => calculatedAttributePage(main, id) },
  { pattern: /^\/ui\/calculated-attributes\/(\d+)\/edit$/, nav: 'calculated-attributes', page: (id) => calculatedAttributeBuilderPage(main, id) },
  { pattern: /^\/ui\/connections$/, nav: 'connections', page: () => connectionsPage(main) },
  { pattern: /^\/ui\/privacy$/, nav: 'privacy', page: () => privacyPage(main) },
  { pattern: /^\/ui\/catalog$/, nav: 'catalog', page: () => catalogPage(main) },
];

async function render() {
  leaveCurrentPage();
  leaveCurrentPage = () => {};
  const route = routes.find(r => r.pattern.test(location.pathname));
  for (const a of document.querySelectorAll('header nav a'))
    a.toggleAttribute('aria-current', a.dataset.nav === route?.nav) && a.setAttribute('aria-current', 'page');
  if (!route) {
    document.title = 'Not found · EventProfiles';
    show(main, failure(new Error(`There is no page at ${location.pathname}.`)));
    return;
  }
  try {
    leaveCurrentPage = (await route.page(...location.pathname.match(route.pattern).slice(1))) ?? (() => {});
  } catch (error) {
    show(main, failure(error));
  }
}

// Links inside the application navigate without a reload; modified clicks (new tab) behave as usual.
document.addEventListener('click', (event) => {
  const a = event.target.closest('a[data-internal], header nav a');
  if (!a || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', render);
window.addEventListener('ep:navigate', () => { render(); main.focus(); });

api('/ui/api/session')
  .then(session => { document.getElementById('session-user').textContent = session.user; })
  .catch(() => {});
render();
