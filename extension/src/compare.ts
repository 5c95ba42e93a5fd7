/**
 * The Compare button's action: put `%mlops compare RUN ...` (after
 * `%load_ext mlops_lab` when the kernel has not loaded it) in a cell of the
 * active notebook, or of a new one, and run it.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { ISessionContext } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { compareCode } from './logic';

/** The parts of a NotebookPanel used here (typed structurally, so the
 * extension does not depend on @jupyterlab/notebook and its large tree). */
interface ICellLike {
  model: { type: string; sharedModel: { getSource(): string } };
}

interface INotebookPanelLike extends Widget {
  context: { ready: Promise<void> };
  sessionContext: ISessionContext;
  content: {
    activeCellIndex: number;
    activeCell: ICellLike | null;
    model: {
      sharedModel: {
        insertCell(index: number, cell: { cell_type: 'code'; source: string }): unknown;
      };
      cells: { get(index: number): { sharedModel: { setSource(source: string): void } } };
    } | null;
  };
}

export function isNotebookPanel(widget: Widget | null): widget is INotebookPanelLike {
  return !!widget && widget.hasClass('jp-NotebookPanel') && 'sessionContext' in widget;
}

const LOADED = "'mlops_lab' in get_ipython().extension_manager.loaded";

/** Has the notebook's kernel loaded the mlops_lab extension? (Asked silently.) */
export async function extensionLoaded(sessionContext: ISessionContext): Promise<boolean> {
  const kernel = sessionContext.session?.kernel;
  if (!kernel) {
    return false;
  }
  const future = kernel.requestExecute(
    { code: '', silent: true, store_history: false, user_expressions: { loaded: LOADED } },
    true
  );
  const timeout = new Promise<null>(resolve => setTimeout(() => resolve(null), 10000));
  const reply = await Promise.race([future.done, timeout]);
  if (!reply || reply.content.status !== 'ok') {
    return false;
  }
  const result = reply.content.user_expressions['loaded'] as
    | { status?: string; data?: Record<string, string> }
    | undefined;
  return result?.status === 'ok' && result.data?.['text/plain'] === 'True';
}

async function targetNotebook(app: JupyterFrontEnd): Promise<INotebookPanelLike> {
  const current = app.shell.currentWidget;
  if (isNotebookPanel(current)) {
    return current;
  }
  const kernelName = app.serviceManager.kernelspecs.specs?.default;
  const created = (await app.commands.execute('notebook:create-new', {
    kernelName
  })) as Widget;
  if (!isNotebookPanel(created)) {
    throw new Error('could not open a notebook to compare the runs in');
  }
  return created;
}

/** Insert and run the comparison of `runIds`; resolves once the cell was sent to run. */
export async function compareInNotebook(app: JupyterFrontEnd, runIds: string[]): Promise<void> {
  const panel = await targetNotebook(app);
  await panel.context.ready;
  app.shell.activateById(panel.id);
  await panel.sessionContext.ready;
  const code = compareCode(runIds, await extensionLoaded(panel.sessionContext));
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    throw new Error('the notebook is not loaded yet');
  }
  const active = notebook.activeCell;
  const reuse =
    active !== null &&
    active.model.type === 'code' &&
    active.model.sharedModel.getSource().trim() === '';
  const index = reuse ? notebook.activeCellIndex : notebook.activeCellIndex + 1;
  if (reuse) {
    model.cells.get(index).sharedModel.setSource(code);
  } else {
    model.sharedModel.insertCell(index, { cell_type: 'code', source: code });
  }
  notebook.activeCellIndex = index;
  app.shell.activateById(panel.id);
  await app.commands.execute('notebook:run-cell');
}
