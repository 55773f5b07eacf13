import { DriverError } from '../driver.exception';
import { errorFromFrame, extractFrame, parseScriptResult } from './hyperv-output';
import { hvState } from './hyperv-state';

const ok = (stdout: string, code = 0) => ({ code, stdout, stderr: '' });

describe('Hyper-V script output', () => {
  it('reads the output frame out of noise around it, with CRLF line ends', () => {
    const stdout = 'WARNING: something\r\n===HP-BEGIN-OUTPUT===\r\n{"id":"a","state":"Running"}\r\n===HP-END-OUTPUT===\r\ntrailing\r\n';
    expect(parseScriptResult('get.ps1', ok(stdout))).toEqual({ id: 'a', state: 'Running' });
  });

  it('keeps a one-element array an array', () => {
    expect(parseScriptResult('list.ps1', ok('===HP-BEGIN-OUTPUT===\n[{"id":"a"}]\n===HP-END-OUTPUT===\n'))).toEqual([{ id: 'a' }]);
  });

  it('treats exit 0 without a frame, an unterminated frame and non-JSON as Fatal', () => {
    expect(() => parseScriptResult('get.ps1', ok('True\n'))).toThrow(expect.objectContaining({ code: 'Fatal', message: expect.stringMatching(/without a result/) }));
    expect(() => parseScriptResult('get.ps1', ok('===HP-BEGIN-OUTPUT===\n{}\n'))).toThrow(expect.objectContaining({ code: 'Fatal' }));
    expect(() => parseScriptResult('get.ps1', ok('===HP-BEGIN-OUTPUT===\n{nope\n===HP-END-OUTPUT===\n'))).toThrow(expect.objectContaining({ code: 'Fatal', message: expect.stringMatching(/not JSON/) }));
    expect(extractFrame('x', 'output')).toBeUndefined();
  });

  it('prefers an error frame even with exit 0, and reports PowerShell\'s own refusals with stderr', () => {
    const err = '===HP-BEGIN-ERROR===\n{"code":"NotFound","message":"no virtual machine with id x","fqid":"","category":""}\n===HP-END-ERROR===\n';
    expect(() => parseScriptResult('get.ps1', ok(err))).toThrow(expect.objectContaining({ code: 'NotFound' }));
    const refused = { code: 1, stdout: '', stderr: "get.ps1 : A parameter cannot be found that matches parameter name 'Bogus'." };
    expect(() => parseScriptResult('get.ps1', refused)).toThrow(expect.objectContaining({ code: 'Fatal', message: expect.stringMatching(/exited with 1 without a result: .*Bogus/) }));
  });

  it.each([
    [{ code: 'NotFound', message: 'gone', fqid: '', category: '' }, 'NotFound'],
    [{ code: 'Conflict', message: 'is Running', fqid: '', category: '' }, 'Conflict'],
    [{ code: 'TemplateMissing', message: 'no base disk', fqid: '', category: '' }, 'Unavailable'],
    [{ code: 'Failed', message: 'Verify that the Virtual Machine Management service on the computer is running.', fqid: 'ObjectNotFound,Microsoft.HyperV.PowerShell.Commands.GetVM', category: 'ObjectNotFound' }, 'Transient'],
    [{ code: 'Failed', message: 'The operation cannot be performed while the object is in its current state.', fqid: 'InvalidState,Microsoft.HyperV.PowerShell.Commands.StartVM', category: 'InvalidOperation' }, 'Conflict'],
    [{ code: 'Failed', message: 'Access denied', fqid: 'AccessDenied,Microsoft.HyperV.PowerShell.Commands.NewVM', category: 'PermissionDenied' }, 'Fatal'],
  ])('classifies %j as %s', (frame, code) => {
    const error = errorFromFrame('x.ps1', frame);
    expect(error).toBeInstanceOf(DriverError);
    expect(error.code).toBe(code);
  });

  it('marks a missing base disk as a host problem, so the scheduler tries another host', () => {
    expect(errorFromFrame('create.ps1', { code: 'TemplateMissing', message: 'x', fqid: '', category: '' })).toMatchObject({ code: 'Unavailable', hostSpecific: true });
  });
});

describe('Hyper-V states by name', () => {
  it.each([
    ['Running', 'running', false, false],
    ['Off', 'stopped', false, false],
    ['Saved', 'suspended', false, false],
    ['Paused', 'suspended', false, false],
    ['Starting', 'running', true, false],
    ['Stopping', 'stopped', true, false],
    ['Saving', 'suspended', true, false],
    ['RunningCritical', 'running', false, true],
    ['OffCritical', 'stopped', false, true],
    ['SomethingNew', 'stopped', false, true],
  ])('%s → %s (transitional %s, broken %s)', (name, state, transitional, broken) => {
    expect(hvState(name)).toEqual({ state, transitional, broken });
  });
});
