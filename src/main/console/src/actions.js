import { ec2 } from './ec2.js';

// Which lifecycle actions make sense in which state (the daemon decides; this only hides nonsense).
export const ACTIONS = [
  { name: 'Start', action: 'StartInstances', states: ['stopped'] },
  { name: 'Stop', action: 'StopInstances', states: ['pending', 'running'] },
  { name: 'Reboot', action: 'RebootInstances', states: ['running'] },
  { name: 'Terminate', action: 'TerminateInstances', states: ['pending', 'running', 'stopping', 'stopped'] },
];

export function instanceAction(action, instanceId) {
  return ec2(action, { 'InstanceId.1': instanceId });
}
