# The box's stand-in for Cinc's `template` resources: render a cookbook's ERB
# templates with the attributes its attributes/*.rb files set, the way Chef
# does (instance variables from the recipe's `variables`).
#
# stdin: {"attributes": [paths of attributes/*.rb],
#         "templates": [{"source": path, "variables": {"name": "swarmhub.join.script"}}]}
# (each variable names a node attribute by its dotted path; a non-string
# value is taken as is). stdout: {"<source>": "<rendered text>"}.
# A missing attribute stops the render with one line, as Chef would.
require 'erb'
require 'json'

class Attributes
  attr_reader :tree

  def initialize
    @tree = Hash.new { |h, k| h[k] = Hash.new(&h.default_proc) }
  end

  def default
    @tree
  end

  def fetch(path)
    path.split('.').reduce(@tree) do |node, key|
      raise KeyError, "no attribute #{path}" unless node.is_a?(Hash) && node.key?(key)

      node[key]
    end
  end
end

class Template
  def initialize(variables)
    variables.each { |name, value| instance_variable_set("@#{name}", value) }
  end

  def render(text)
    ERB.new(text, trim_mode: '-').result(binding)
  end
end

begin
  request = JSON.parse($stdin.read)
  attributes = Attributes.new
  request.fetch('attributes').each { |path| attributes.instance_eval(File.read(path), path) }
  out = {}
  request.fetch('templates').each do |t|
    variables = t.fetch('variables').transform_values { |v| v.is_a?(String) ? attributes.fetch(v) : v }
    out[t.fetch('source')] = Template.new(variables).render(File.read(t.fetch('source')))
  end
  puts JSON.generate(out)
rescue StandardError, ScriptError => e
  warn "#{e.class}: #{e.message.lines.first.to_s.strip}"
  exit 1
end
