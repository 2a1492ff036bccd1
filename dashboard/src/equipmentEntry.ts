/** Mounts the equipment page of `?id=` on equipment.html (until the dashboard routes to it). */
import { renderEquipmentPage } from './equipmentPage.js';

const root = document.getElementById('equipment-root');
const equipmentId = new URLSearchParams(window.location.search).get('id');
if (root && equipmentId) renderEquipmentPage(root, equipmentId);
else if (root) root.textContent = 'Give the equipment as ?id=… in the address.';
