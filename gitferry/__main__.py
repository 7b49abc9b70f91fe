from gitferry.cli.main import app

app(prog_name="gitferry")
