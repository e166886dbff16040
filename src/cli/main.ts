process.stdout.write('harness: not built yet\n');
