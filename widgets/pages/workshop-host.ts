// The workshop host's dashboard page (/host on the workshop server).
import { mountHostDashboard } from '../workshop/index.js';

mountHostDashboard(document.getElementById('host')!);
