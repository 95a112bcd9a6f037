#!/usr/bin/env bash
# Draws media/icon.png, the extension's icon (256x256), from media/lifeboat.svg: the same drawing in
# white on a rounded sea-blue square, so it reads on light and dark pages alike. Run it again after
# changing media/lifeboat.svg; rsvg-convert comes from Debian's librsvg2-bin.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-packages.sh librsvg2-bin

# media/lifeboat.svg draws in currentColor on a 24x24 canvas: nested whole in a group that sets the
# colour, scaled 8 times and centred, it stays a copy of the drawing rather than a redrawing.
{
  echo '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">'
  echo '<rect width="256" height="256" rx="48" fill="#0e4a6e"/>'
  echo '<g color="#ffffff" transform="translate(32 32) scale(8)">'
  cat media/lifeboat.svg
  echo '</g>'
  echo '</svg>'
} | rsvg-convert --format png --output media/icon.png
