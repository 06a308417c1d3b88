/** `[fd00::1]:80` for IPv6, `10.0.0.1:80` otherwise: the form every `<ip>:<port>` value is written in. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
