/**
 * mlops-lab's JupyterLab extension: the Experiments side panel and its
 * commands (open the panel, refresh it, compare the selected runs).
 */
import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { LabIcon } from '@jupyterlab/ui-components';

import { compareInNotebook } from './compare';
import { ExperimentsPanel } from './panel';

const ICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
  '<path class="jp-icon3" fill="#616161" d="M9 2v2h1v5.3L4.4 19A2 2 0 0 0 6.1 22h11.8a2 2 0 0 0 ' +
  '1.7-3L14 9.3V4h1V2H9zm3 2v5.8l2.2 3.7H9.8L12 9.8V4z"/></svg>';

export const experimentsIcon = new LabIcon({ name: 'mlops-lab:experiments', svgstr: ICON_SVG });

export const CommandIDs = {
  open: 'mlops-lab:open-experiments',
  refresh: 'mlops-lab:refresh-experiments',
  compare: 'mlops-lab:compare-selected'
} as const;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'mlops-lab:experiments',
  description: 'The Experiments side panel: runs, comparison and models of the mlops-lab store.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const compare = (ids: string[]) => compareInNotebook(app, ids);
    const panel = new ExperimentsPanel({ compare });
    panel.title.icon = experimentsIcon;
    app.shell.add(panel, 'left', { rank: 900 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    app.commands.addCommand(CommandIDs.open, {
      label: 'Open Experiments Panel',
      caption: 'Show the runs of the mlops-lab store',
      icon: experimentsIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Experiments',
      execute: () => panel.refresh()
    });
    app.commands.addCommand(CommandIDs.compare, {
      label: 'Compare Selected Runs in Notebook',
      caption: 'Insert and run %mlops compare for the runs selected in the Experiments panel',
      isEnabled: () => panel.selection.length > 0,
      execute: () => compare(panel.selection)
    });
    if (palette) {
      for (const command of [CommandIDs.open, CommandIDs.refresh, CommandIDs.compare]) {
        palette.addItem({ command, category: 'mlops-lab' });
      }
    }
  }
};

export default plugin;
