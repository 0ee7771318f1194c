// Client-side configuration: web/config.json, a static file the gateway serves with the
// UI (edit it to change these without rebuilding anything). Missing file or keys fall
// back to the defaults below. See docs/web.md.
const DEFAULTS = {
  covers: true,          // show the catalog's cover images (image_url); false: placeholders only
  page_size: 12,         // books per page in recommendation, search and similar lists
  ratings_page_size: 10, // ratings per page on the profile
};

export const config = { ...DEFAULTS };

export async function loadConfig() {
  try {
    const resp = await fetch('/config.json', { credentials: 'same-origin' });
    if (!resp.ok) return config;
    const data = await resp.json();
    for (const k of Object.keys(DEFAULTS)) {
      if (typeof data[k] === typeof DEFAULTS[k]) config[k] = data[k];
    }
  } catch {
    // unreachable server: the pages report it themselves
  }
  return config;
}
