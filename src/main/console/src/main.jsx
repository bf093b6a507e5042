import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { signOut } from './ec2.js';
import { InstancesPage } from './pages/Instances.jsx';
import { LaunchPage } from './pages/Launch.jsx';
import { KeyPairsPage } from './pages/KeyPairs.jsx';
import { ImagesPage, SecurityGroupsPage, VolumesPage } from './pages/Resources.jsx';
import { InstancePage } from './pages/Instance.jsx';
import './style.css';

const NAV = [
  ['#/instances', 'Instances'],
  ['#/launch', 'Launch'],
  ['#/key-pairs', 'Key pairs'],
  ['#/images', 'Images'],
  ['#/volumes', 'Volumes'],
  ['#/security-groups', 'Security groups'],
];

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/instances');
  useEffect(() => {
    const changed = () => setHash(location.hash || '#/instances');
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function App() {
  const hash = useHash();
  const [flash, setFlash] = useState(null);
  const navigate = (to, message) => {
    setFlash(message ?? null);
    location.hash = to;
  };
  useEffect(() => {
    if (flash) {
      const t = setTimeout(() => setFlash(null), 8000);
      return () => clearTimeout(t);
    }
    return undefined;
  }, [flash]);

  const instance = hash.match(/^#\/instances\/(i-[0-9a-f]+)$/);
  let page;
  if (instance) page = <InstancePage instanceId={instance[1]} />;
  else if (hash === '#/launch') page = <LaunchPage navigate={navigate} />;
  else if (hash === '#/key-pairs') page = <KeyPairsPage />;
  else if (hash === '#/images') page = <ImagesPage />;
  else if (hash === '#/volumes') page = <VolumesPage />;
  else if (hash === '#/security-groups') page = <SecurityGroupsPage />;
  else page = <InstancesPage flash={flash} />;

  return (
    <>
      <header>
        <h1>
          <a href="#/instances">Flint cloud</a>
        </h1>
        <nav>
          {NAV.map(([href, label]) => (
            <a key={href} href={href} class={hash === href || (href === '#/instances' && instance) ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <button
          type="button"
          class="small link"
          id="signout"
          onClick={async () => {
            await signOut();
            location.assign('/console/');
          }}
        >
          Sign out
        </button>
      </header>
      <main>{page}</main>
    </>
  );
}

render(<App />, document.getElementById('app'));
