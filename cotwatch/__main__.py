from cotwatch.cli import run

run()
